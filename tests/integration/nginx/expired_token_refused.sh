#!/bin/bash
# A token outside its validity is refused: nginx runs under libfaketime, two
# days ahead (a 1-day client has expired) or one day behind (no client is
# valid yet). Skipped (77) where libfaketime is not installed.
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
[ -n "$FAKETIME_LIB" ] || { echo "skip: libfaketime not installed"; exit 77; }
source "$TESTLIB"
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen short01 --days 1 --output ./short01 >/dev/null
keytool gen long01 --days 3 --output ./long01 >/dev/null
export NGX_PRELOAD=$FAKETIME_LIB

FAKETIME=+2d start_protected_proxy
expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./short01_token`")" \
    "401 $INVALID_TOKEN_BODY" "1-day token, two days later"
expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./long01_token`")" \
    "200 client=long01" "3-day token, two days later"
expect_contains "$(cat "$NGX_ERROR_LOG")" 'token of client "short01" refused: expired' "refusal logged"
pass "expired token: 401 invalid token"
expect_clean_error_log ./short01_token ./long01_token
stop_nginx

FAKETIME=-1d start_protected_proxy
expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./long01_token`")" \
    "401 $INVALID_TOKEN_BODY" "token, a day before it was issued"
expect_contains "$(cat "$NGX_ERROR_LOG")" 'token of client "long01" refused: not yet valid' "refusal logged"
pass "not yet valid token: 401 invalid token"
expect_clean_error_log ./short01_token ./long01_token
