#!/bin/bash
# Proxied responses still open when their token stops holding: an SSE stream
# read with "curl -N" and a long poll the upstream has not answered yet are
# closed within a second of "keytool del"; a stream whose client expires
# while it flows is closed within a second of the expiry, with no registry
# change then. Another client's stream is untouched by the deletion.
source "$(dirname "$0")/nginx_lib.sh"
source "$NGINX_TESTS/streams_lib.sh"
: "${SET_VALIDITY:?SET_VALIDITY must name keyauth_set_validity}"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
start_upstream http-server
PORT=$(free_port)
start_nginx "$(token_server "$PORT" "
        proxy_read_timeout 60s;

        location /events {
            proxy_pass http://127.0.0.1:$UP;
            proxy_buffering off;
        }
        location /poll {
            proxy_pass http://127.0.0.1:$UP;
        }")"
auth() { echo "Authorization: Bearer $(cat ./$1_token)"; }

sse_client sse01 "http://127.0.0.1:$PORT/events" -H "$(auth myapp01)"
sse_client sse02 "http://127.0.0.1:$PORT/events" -H "$(auth myapp02)"
sse_client poll01 "http://127.0.0.1:$PORT/poll" -H "$(auth myapp01)"
wait_for_lines sse01 data 5
wait_for_lines sse02 data 5
sleep 0.3
expect_eq "$(cat "$WORK/poll01.out")" "" "the long poll, before the change"
pass "two SSE streams flowing through proxy_pass, one long poll waiting"

T0=$(now)
keytool del myapp01 >/dev/null
ended=$(expect_cut_within_1s sse01 "$T0" "myapp01's SSE stream after del")
[ "$ended" != "exit 0" ] || fail "myapp01's SSE stream ended as if complete"
ended=$(expect_cut_within_1s poll01 "$T0" "myapp01's long poll after del")
[ "$ended" != "exit 0" ] || fail "myapp01's long poll answered"
pass "keytool del: myapp01's SSE stream and long poll closed within 1 s"

expect_still_flowing sse02 data "myapp02's SSE stream after myapp01's deletion"
expect_eq "$(cuts_of myapp01)" "2" "cut lines for myapp01"
expect_eq "$(cuts_of myapp02)" "0" "cut lines for myapp02"
pass "myapp02's stream untouched; one log line per cut"

# myapp02 expires 2 s from now: the stream flows until then, and is cut
# within a second of the end of its validity (expired from not_after + 1 on).
"$SET_VALIDITY" "$KEYAUTH_REGISTRY" myapp02 -100 +2
not_after=$(keytool list --json | grep -o '"id":"myapp02".*"not_after":[0-9]*' | grep -o '[0-9]*$')
expect_still_flowing sse02 data "myapp02's stream before its expiry"
ended=$(expect_cut_within_1s sse02 "$((not_after + 1))" "myapp02's stream after its expiry")
[ "$ended" != "exit 0" ] || fail "myapp02's SSE stream ended as if complete"
expect_contains "$(cat "$NGX_ERROR_LOG")" \
    'keyauth: closing open request of client "myapp02": expired' "expiry cut logged"
pass "an expiry passing closes the stream within 1 s"

expect_clean_error_log ./myapp01_token ./myapp02_token
