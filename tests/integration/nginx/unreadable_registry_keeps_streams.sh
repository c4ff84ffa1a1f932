#!/bin/bash
# A registry the workers cannot read is not a revocation: open SSE streams
# keep flowing (new requests fail closed with 500) and each worker says so
# once; a client deleted meanwhile is cut as soon as the registry answers
# again; an error that outlasts keyauth_registry_error_grace (3 s here) cuts
# the streams.
source "$(dirname "$0")/nginx_lib.sh"
source "$NGINX_TESTS/streams_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
start_upstream http-server
PORT=$(free_port)
start_nginx "
    keyauth_registry_error_grace 3s;

$(token_server "$PORT" "
        proxy_read_timeout 60s;

        location /events {
            proxy_pass http://127.0.0.1:$UP;
            proxy_buffering off;
        }")"
auth() { echo "Authorization: Bearer $(cat ./$1_token)"; }
status_of() { curl -s -o /dev/null -w '%{http_code}' -H "$(auth "$1")" "http://127.0.0.1:$PORT/events"; }

warnings() { grep -c "keyauth: registry \"$KEYAUTH_REGISTRY\" unreadable: keeping" "$NGX_ERROR_LOG" || true; }

sse_client sse01 "http://127.0.0.1:$PORT/events" -H "$(auth myapp01)"
sse_client sse02 "http://127.0.0.1:$PORT/events" -H "$(auth myapp02)"
wait_for_lines sse01 data 5
wait_for_lines sse02 data 5
pass "two SSE streams flowing"

make_registry_unreadable
sleep 0.3    # readers look for a replaced registry every 200 ms
expect_eq "$(status_of myapp02)" "500" "a new request while the registry is unreadable"
# keytool, as root, still writes; the workers cannot see it yet.
keytool del myapp01 >/dev/null
FLOW_MIN=3 expect_still_flowing sse01 data "myapp01's stream, registry unreadable"
expect_eq "$(cuts_of myapp01)$(cuts_of myapp02)" "00" "cuts while the registry is unreadable"
[ "$(warnings)" -ge 1 ] && [ "$(warnings)" -le 2 ] ||
    fail "expected one warning per worker holding streams, got $(warnings): $(grep keyauth "$NGX_ERROR_LOG")"
pass "unreadable registry: streams kept, new requests refused, one warning per worker"

make_registry_readable
T0=$(now)
CUT_LIMIT=1.5 expect_cut_within_1s sse01 "$T0" "myapp01's stream once the registry answers" >/dev/null
expect_still_flowing sse02 data "myapp02's stream once the registry answers"
expect_eq "$(status_of myapp01)" "401" "myapp01, deleted meanwhile"
expect_contains "$(cat "$NGX_ERROR_LOG")" "keyauth: registry \"$KEYAUTH_REGISTRY\" readable again" "error log"
expect_contains "$(cat "$NGX_ERROR_LOG")" 'closing open request of client "myapp01": unknown client' "error log"
pass "readable again: myapp01, deleted meanwhile, cut; myapp02's stream kept"

make_registry_unreadable
T1=$(now)
FLOW_MIN=3 expect_still_flowing sse02 data "myapp02's stream 1 s into the error"
FLOW_MIN=3 expect_still_flowing sse02 data "myapp02's stream 2 s into the error"
ended=$(CUT_LIMIT=5.5 expect_cut_within_1s sse02 "$T1" "myapp02's stream after the grace")
[ "$ended" != "exit 0" ] || fail "myapp02's SSE stream ended as if complete"
line=$(grep -E '^(closed|error|end|exit|timeout) ' "$WORK/sse02.out" | head -n 1)
awk -v a="${line##* }" -v b="$T1" 'BEGIN { exit !(a - b >= 3) }' ||
    fail "myapp02's stream cut $(awk -v a="${line##* }" -v b="$T1" 'BEGIN { print a - b }') s into the error (grace 3 s)"
expect_contains "$(cat "$NGX_ERROR_LOG")" \
    'closing open request of client "myapp02": registry unreadable for longer than keyauth_registry_error_grace' \
    "error log"
pass "an error longer than the grace cuts the stream"
make_registry_readable

expect_clean_error_log ./myapp01_token ./myapp02_token
