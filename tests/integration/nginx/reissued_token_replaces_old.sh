#!/bin/bash
# keytool gen --force: the old token stops working at once, the new one works.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./old >/dev/null
start_protected_proxy

expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./old_token`")" \
    "200 client=myapp01" "first token"
keytool gen myapp01 --output ./new --force >/dev/null

expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./old_token`")" \
    "401 $INVALID_TOKEN_BODY" "old token after gen --force"
expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./new_token`")" \
    "200 client=myapp01" "new token after gen --force"
pass "gen --force: old token refused, new token accepted"
expect_clean_error_log ./old_token ./new_token
