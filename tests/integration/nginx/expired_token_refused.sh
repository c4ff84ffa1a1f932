#!/bin/bash
# A client outside its validity is refused on its next request, with no
# reload: expired, or not yet valid. (SET_VALIDITY moves a client's window in
# the registry, as time would.)
source "$(dirname "$0")/nginx_lib.sh"
: "${SET_VALIDITY:?SET_VALIDITY must name keyauth_set_validity}"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
start_protected_proxy

expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./myapp01_token`")" \
    "200 client=myapp01" "token within its validity"

"$SET_VALIDITY" "$KEYAUTH_REGISTRY" myapp01 -200000 -1
for _ in $(seq 10); do
    expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./myapp01_token`")" \
        "401 $INVALID_TOKEN_BODY" "expired token"
done
expect_contains "$(cat "$NGX_ERROR_LOG")" 'token of client "myapp01" refused: expired' "refusal logged"
pass "expired token: 401 invalid token on the next requests"

"$SET_VALIDITY" "$KEYAUTH_REGISTRY" myapp01 +100 +200000
expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./myapp01_token`")" \
    "401 $INVALID_TOKEN_BODY" "token not yet valid"
expect_contains "$(cat "$NGX_ERROR_LOG")" 'token of client "myapp01" refused: not yet valid' "refusal logged"
pass "not yet valid token: 401 invalid token"

"$SET_VALIDITY" "$KEYAUTH_REGISTRY" myapp01 -100 +200000
expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./myapp01_token`")" \
    "200 client=myapp01" "token valid again"
pass "back within its validity: accepted again"

expect_clean_error_log ./myapp01_token
