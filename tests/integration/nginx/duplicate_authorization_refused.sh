#!/bin/bash
# Two Authorization headers: nginx itself answers 400 before any module runs
# ("client sent duplicate header line"). It logs that line, token included,
# at info level: at notice, and at the default level error, no secret is
# written.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
NGX_LOG_LEVEL=notice start_protected_proxy
token=$(cat ./myapp01_token)

out=$(curl_status_body http://127.0.0.1:$PORT/db/query \
      -H "Authorization: Bearer $token" -H "Authorization: Bearer $token")
expect_eq "${out%% *}" "400" "two Authorization headers"
expect_not_contains "$out" "client=" "two Authorization headers reached the upstream"
pass "two Authorization headers: refused with 400 by nginx"

expect_clean_error_log ./myapp01_token
pass "error log at notice: no secret"
