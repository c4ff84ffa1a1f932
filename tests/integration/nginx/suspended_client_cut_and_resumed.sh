#!/bin/bash
# keytool suspend: the client's WebSocket is closed within a second and its
# token refused with the usual 401, the client kept; keytool resume: the same
# token admitted again. Another client's WebSocket keeps flowing throughout.
source "$(dirname "$0")/nginx_lib.sh"
source "$NGINX_TESTS/streams_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
start_upstream ws-echo
PORT=$(free_port)
start_nginx "$(token_server "$PORT" "$(websocket_location)")"

run_bg ws01 $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./myapp01_token)"
run_bg ws02 $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./myapp02_token)"
wait_for_lines ws01 echo 5
wait_for_lines ws02 echo 5

T0=$(now)
expect_eq "$(keytool suspend myapp01)" "suspended" "keytool suspend"
expect_eq "$(expect_cut_within_1s ws01 "$T0" "myapp01's WebSocket after suspend")" "closed" "how it ended"
expect_contains "$(cat "$NGX_ERROR_LOG")" \
    'keyauth: closing open request of client "myapp01": suspended' "the cut logged with its reason"
expect_eq "$(curl_status_body -H "Authorization: Bearer $(cat ./myapp01_token)" "http://127.0.0.1:$PORT/ws")" \
    "401 $INVALID_TOKEN_BODY" "myapp01's token while suspended"
expect_still_flowing ws02 echo "myapp02's WebSocket"
pass "suspend: myapp01's WebSocket closed within 1 s, its token refused"

expect_eq "$(keytool resume myapp01)" "resumed" "keytool resume"
run_bg ws01b $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./myapp01_token)"
wait_for_lines ws01b echo 5
expect_still_flowing ws02 echo "myapp02's WebSocket"
expect_eq "$(cuts_of myapp02)" "0" "cut lines for myapp02"
pass "resume: the same token opens a WebSocket again; myapp02 never cut"
expect_clean_error_log ./myapp01_token ./myapp02_token
