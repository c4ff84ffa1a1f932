#!/bin/bash
# A registry the workers cannot open: nginx starts, says why in the error
# log, and refuses every protected request with 500 (fail closed) until the
# registry is readable; then requests pass, with no reload.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
chmod 700 "$KEYAUTH_REGISTRY"          # www-data may no longer enter it
start_protected_proxy

for _ in $(seq 6); do
    out=$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./myapp01_token`")
    expect_eq "${out%% *}" "500" "token with an unreadable registry"
    expect_not_contains "$out" "client=" "unreadable registry reached the upstream"
done
expect_contains "$(cat "$NGX_ERROR_LOG")" "keyauth: cannot open registry \"$KEYAUTH_REGISTRY\"" "error log"
pass "unreadable registry: 500, and the error log says why"

chmod 2750 "$KEYAUTH_REGISTRY"
for _ in $(seq 6); do
    expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./myapp01_token`")" \
        "200 client=myapp01" "token once the registry is readable"
done
pass "readable again: accepted, without a reload"

expect_clean_error_log ./myapp01_token
