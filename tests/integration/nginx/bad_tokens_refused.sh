#!/bin/bash
# Wrong, unknown, malformed and missing tokens: 401, the seed's JSON body, a
# Bearer challenge; the refusal is logged with who and why, never the secret.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
start_protected_proxy
token=$(cat ./myapp01_token)
secret=${token##*:}
other_secret=$(printf '%064x' 42)

# expect_refused WHAT CURL_ARGS...: the whole seed refusal, nothing upstream.
expect_refused() {
    local what=$1 out
    shift
    out=$(curl -s -i "$URL" "$@")
    expect_contains "$out" "HTTP/1.1 401 Unauthorized" "$what: status"
    expect_contains "$out" "Content-Type: application/json" "$what: content type"
    expect_contains "$out" "$INVALID_TOKEN_CHALLENGE" "$what: challenge"
    expect_eq "$(tail -n 1 <<<"$out")" "$INVALID_TOKEN_BODY" "$what: body"
    expect_contains "$out" "Content-Length: ${#INVALID_TOKEN_BODY}" "$what: length"
    expect_not_contains "$out" "client=" "$what: reached the upstream"
}

expect_refused "wrong secret" -H "Authorization: Bearer myapp01:b:$other_secret"
pass "a wrong secret: 401 invalid token"
expect_refused "unknown client" -H "Authorization: Bearer nobody:b:$secret"
pass "an unknown client: 401 invalid token"
expect_refused "uppercase hex" -H "Authorization: Bearer myapp01:b:${secret^^}"
expect_refused "short secret" -H "Authorization: Bearer myapp01:b:${secret:1}"
expect_refused "no id" -H "Authorization: Bearer :b:$secret"
expect_refused "two tokens" -H "Authorization: Bearer $token $token"
expect_refused "bare token" -H "Authorization: $token"
expect_refused "Basic scheme" -H "Authorization: Basic $(printf 'myapp01:%s' "$secret" | base64 -w0)"
expect_refused "empty Bearer" -H "Authorization: Bearer"
expect_refused "empty header" -H "Authorization;"
pass "malformed tokens and other schemes: 401 invalid token"

out=$(curl -s -i "$URL")
expect_contains "$out" "HTTP/1.1 401 Unauthorized" "missing token: status"
expect_contains "$out" "Content-Type: application/json" "missing token: content type"
expect_contains "$out" 'WWW-Authenticate: Bearer realm="keyauth"' "missing token: challenge"
expect_eq "$(tail -n 1 <<<"$out")" "$MISSING_TOKEN_BODY" "missing token: body"
pass "no Authorization header: 401 missing token"

out=$(curl_status_body "$URL" -H "Authorization: Bearer $token")
expect_eq "$out" "200 client=myapp01" "the valid token after all those refusals"
pass "the valid token still works"

log=$(cat "$NGX_ERROR_LOG")
expect_contains "$log" 'keyauth: token of client "myapp01" refused' "refusal logged with the client id"
expect_contains "$log" 'keyauth: token of client "nobody" refused' "unknown client logged"
expect_not_contains "$log" "$other_secret" "error log"
expect_clean_error_log ./myapp01_token
pass "refusals logged with client and reason, never a secret"
