#!/bin/bash
# keyauth_last_use: a request still open is a use at every interval. A
# WebSocket open across a minute's end is recorded at the new minute, not
# only at its upgrade request's (keytool list --unused 90d must not name a
# device whose WebSocket has been open for 100 days). One that closed keeps
# its last real use.
source "$(dirname "$0")/nginx_lib.sh"
source "$NGINX_TESTS/streams_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
new_last_use_file www-data
export STREAMS_LIFETIME=150   # past the minute's end, the upstream too
start_upstream ws-echo
PORT=$(free_port)
start_nginx "keyauth_last_use $LAST_USE interval=1s;
$(token_server "$PORT" "$(websocket_location)")"

run_bg ws01 $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./myapp01_token)"
STREAMS_LIFETIME=0.5 run_bg ws02 $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./myapp02_token)"
wait_for_lines ws01 echo 3
wait_for_lines ws02 timeout 1
wait_for_last_use "$LAST_USE" myapp01
wait_for_last_use "$LAST_USE" myapp02
opened=$(last_used "$LAST_USE" myapp01)
closed=$(last_used "$LAST_USE" myapp02)
latest=$((opened > closed ? opened : closed))

wait_for_minute_after "$latest" 2.5   # then two intervals
expect_still_flowing ws01 echo "myapp01's WebSocket"
recorded=$(last_used "$LAST_USE" myapp01)
[ "$recorded" -ge $((latest + 60)) ] ||
    fail "myapp01's last use $recorded is its upgrade's minute $opened: the open WebSocket was not counted"
expect_contains "$(keytool show myapp01 --last-use "$LAST_USE")" \
    "LAST USED           $(date -u -d "@$recorded" '+%Y-%m-%d %H:%M:%S') +0000 UTC" "keytool show"
expect_eq "$(unused_clients "$LAST_USE" 30s)" "myapp02" "clients unused within 30 s"
pass "keyauth_last_use: an open WebSocket is recorded at a later minute than its upgrade"

expect_eq "$(last_used "$LAST_USE" myapp02)" "$closed" "myapp02's last use (its WebSocket closed)"
pass "keyauth_last_use: a closed WebSocket keeps its last real use"

expect_clean_error_log ./myapp01_token ./myapp02_token
