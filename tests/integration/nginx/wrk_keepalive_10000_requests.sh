#!/bin/bash
# 10 000 keep-alive requests with a valid token under wrk: every one answered
# 200, no socket error, no worker trouble in the error log.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
PORT=$(free_port)
mkdir -p "$WORK/html"
echo ok >"$WORK/html/index.html"
NGX_LOG_LEVEL=notice start_nginx "
    server {
        listen 127.0.0.1:$PORT reuseport;
        keyauth_registry $KEYAUTH_REGISTRY;
        location / {
            keyauth on;
            root $WORK/html;
        }
    }"

# wrk runs for a time, not a count: 4 s make well over 10 000 requests here.
cat >load.lua <<LUA
wrk.headers["Authorization"] = "Bearer $(cat ./myapp01_token)"
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("requests=%d errors=%d\n", summary.requests,
        e.connect + e.read + e.write + e.status + e.timeout))
end
LUA
out=$(wrk -t 2 -c 8 -d 4s -s load.lua "http://127.0.0.1:$PORT/index.html")
echo "$out"
requests=$(grep -o 'requests=[0-9]*' <<<"$out" | cut -d= -f2)
[ "${requests:-0}" -ge 10000 ] || fail "wrk made only ${requests:-0} requests"
expect_contains "$out" "errors=0" "wrk errors"
expect_not_contains "$out" "Non-2xx" "wrk non-2xx answers"
pass "10 000 keep-alive requests with a valid token: all 200"

out=$(wrk -t 2 -c 8 -d 1s "http://127.0.0.1:$PORT/index.html")
expect_contains "$out" "Non-2xx or 3xx responses" "wrk without a token"
pass "the same load without a token: refused"

expect_clean_error_log ./myapp01_token
