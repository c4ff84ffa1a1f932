#!/bin/bash
# keytool rotate --grace: the replaced token keeps working, and a WebSocket it
# opened keeps flowing, until the grace ends; then, with no command, the token
# is refused and the WebSocket closed within a second. The new token's
# WebSocket and another client's keep flowing.
source "$(dirname "$0")/nginx_lib.sh"
source "$NGINX_TESTS/streams_lib.sh"

init_registry
keytool gen myapp01 --output ./old >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
start_upstream ws-echo
PORT=$(free_port)
start_nginx "$(token_server "$PORT" "$(websocket_location)")"

run_bg old $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./old_token)"
run_bg other $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./myapp02_token)"
wait_for_lines old echo 5
wait_for_lines other echo 5

keytool rotate myapp01 --grace 4s --output ./new >/dev/null
until=$(keytool show myapp01 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["previous_not_after"])')
run_bg new $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./new_token)"
wait_for_lines new echo 5
# Admitted, a plain request reaches the upstream (which wants a WebSocket).
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat ./old_token)" \
    "http://127.0.0.1:$PORT/ws")
[ "$code" != 401 ] || fail "a plain request with the old token in its grace: 401"
expect_still_flowing old echo "the old token's WebSocket in the grace"
pass "in the grace: the old token admitted, its WebSocket flowing"

while [ "$(date +%s)" -le "$until" ]; do
    if grep -qE '^(closed|error|end) ' "$WORK/old.out"; then
        fail "the old token's WebSocket ended before the grace did: $(tail -n 1 "$WORK/old.out")"
    fi
    sleep 0.1
done
expect_eq "$(expect_cut_within_1s old "$((until + 1))" "the old token's WebSocket at the grace's end")" \
    "closed" "how it ended"
expect_contains "$(cat "$NGX_ERROR_LOG")" \
    'keyauth: closing open request of client "myapp01": expired' "the cut logged with its reason"
pass "at the grace's end, with no command: the old token's WebSocket closed"

expect_eq "$(curl_status_body -H "Authorization: Bearer $(cat ./old_token)" "http://127.0.0.1:$PORT/ws")" \
    "401 $INVALID_TOKEN_BODY" "the old token after the grace"
expect_still_flowing new echo "the new token's WebSocket"
expect_still_flowing other echo "myapp02's WebSocket"
expect_eq "$(cuts_of myapp02)" "0" "cut lines for myapp02"
pass "after the grace: the old token refused, the new token's and myapp02's WebSockets flowing"
expect_clean_error_log ./old_token ./new_token ./myapp02_token
