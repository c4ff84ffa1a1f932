#!/bin/bash
# nginx -s reload: the new workers open the registry and check tokens as the
# old ones did; a client deleted meanwhile stays refused.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
start_protected_proxy

expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./myapp01_token`")" \
    "200 client=myapp01" "before reload"
keytool del myapp02 >/dev/null
reload_nginx_and_wait

for _ in $(seq 10); do
    expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./myapp01_token`")" \
        "200 client=myapp01" "after reload"
    expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./myapp02_token`")" \
        "401 $INVALID_TOKEN_BODY" "deleted client after reload"
done
expect_eq "$(grep -c 'HTTP token authentication enabled' "$NGX_ERROR_LOG")" "2" "start message, at start and at reload"
pass "after reload: valid token accepted, deleted client refused"
expect_clean_error_log ./myapp01_token ./myapp02_token
