#!/bin/bash
# A valid token gets through; the upstream sees the client id and the
# Authorization header as the client sent it.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
start_protected_proxy

expect_contains "$(cat "$NGX_ERROR_LOG")" "HTTP token authentication enabled" "error log at start"
pass "error log says HTTP token authentication enabled"

out=$(curl -s -i http://127.0.0.1:$PORT/db/query --data-urlencode "q=select 1" \
      -H "Authorization: Bearer `cat ./myapp01_token`")
expect_contains "$out" "HTTP/1.1 200 OK" "valid token"
expect_contains "$out" "client=myapp01" "client id reaching the upstream"
pass "valid token: 200 and X-Client-Id myapp01 upstream"

out=$(curl -s http://127.0.0.1:$PORT/authorization -H "Authorization: Bearer `cat ./myapp01_token`")
expect_eq "$out" "authorization=Bearer $(cat ./myapp01_token)" "Authorization header upstream"
pass "Authorization header reaches the upstream untouched"

for scheme in bearer BEARER bEaReR; do
    out=$(curl_status_body http://127.0.0.1:$PORT/db/query -H "Authorization: $scheme `cat ./myapp01_token`")
    expect_eq "$out" "200 client=myapp01" "scheme $scheme"
done
pass "the Bearer scheme matches in any case"

expect_clean_error_log ./myapp01_token
pass "error log clean"
