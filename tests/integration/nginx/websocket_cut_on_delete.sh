#!/bin/bash
# A WebSocket admitted by its token (proxy_pass with Upgrade) is closed within
# a second of "keytool del", with one line in the error log; another client's
# WebSocket keeps flowing. After a reload, the old worker still holding a
# WebSocket still cuts it.
source "$(dirname "$0")/nginx_lib.sh"
source "$NGINX_TESTS/streams_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
keytool gen myapp03 --output ./myapp03 >/dev/null
start_upstream ws-echo
PORT=$(free_port)
start_nginx "$(token_server "$PORT" "$(websocket_location)")"

run_bg ws01 $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./myapp01_token)"
run_bg ws02 $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./myapp02_token)"
wait_for_lines ws01 echo 5
wait_for_lines ws02 echo 5
pass "two WebSockets through nginx with tokens: messages echoed"

T0=$(now)
keytool del myapp01 >/dev/null
expect_eq "$(expect_cut_within_1s ws01 "$T0" "myapp01's WebSocket after del")" "closed" "how it ended"
pass "keytool del: myapp01's WebSocket closed within 1 s"

expect_still_flowing ws02 echo "myapp02's WebSocket"
pass "myapp02's WebSocket untouched by myapp01's deletion"

expect_eq "$(cuts_of myapp01)" "1" "cut lines for myapp01"
expect_contains "$(cat "$NGX_ERROR_LOG")" \
    'keyauth: closing open request of client "myapp01": unknown client' "cut logged with its reason"
expect_eq "$(cuts_of myapp02)" "0" "cut lines for myapp02"
pass "one log line for the cut: client id and reason"

expect_eq "$(curl_status_body -H "Authorization: Bearer $(cat ./myapp01_token)" http://127.0.0.1:$PORT/ws)" \
    "401 $INVALID_TOKEN_BODY" "a new request with the deleted token"

run_bg ws03 $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./myapp03_token)"
wait_for_lines ws03 echo 3
kill -HUP "$(cat "$NGX_PREFIX/logs/nginx.pid")"
for _ in $(seq 100); do
    [ "$(grep -c 'gracefully shutting down' "$NGX_ERROR_LOG")" -ge 2 ] && break
    sleep 0.05
done
expect_eq "$(grep -c 'gracefully shutting down' "$NGX_ERROR_LOG")" "2" "old workers after the reload"
expect_still_flowing ws03 echo "myapp03's WebSocket across the reload"
T0=$(now)
keytool del myapp03 >/dev/null
expect_eq "$(expect_cut_within_1s ws03 "$T0" "myapp03's WebSocket in an old worker after del")" "closed" "how it ended"
expect_eq "$(cuts_of myapp03)" "1" "cut lines for myapp03"
pass "after a reload, the old worker draining a WebSocket still cuts it on del"

expect_clean_error_log ./myapp01_token ./myapp02_token ./myapp03_token
