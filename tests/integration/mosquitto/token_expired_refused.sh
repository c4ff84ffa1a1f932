# A token past its validity, or not valid yet, is refused. keytool cannot
# issue such a token, so set_validity moves the registered window.
source "$TESTLIB"
source "$BROKER_LIB"
keytool gen myapp01 >/dev/null
start_broker

"$SET_VALIDITY" "$KEYAUTH_REGISTRY" myapp01 -86400 -60
out=$(publish_with_token ./myapp01_token "$PAYLOAD") && fail "expired token accepted"
expect_refused "$out" "expired token"
expect_in_log "token of 'myapp01': expired" "expiry logged"
pass "expired token refused"

"$SET_VALIDITY" "$KEYAUTH_REGISTRY" myapp01 3600 86400
out=$(publish_with_token ./myapp01_token "$PAYLOAD" -V 5) && fail "not yet valid token accepted"
expect_refused "$out" "not yet valid token"
expect_in_log "token of 'myapp01': not yet valid" "not yet valid logged"
pass "not yet valid token refused"

"$SET_VALIDITY" "$KEYAUTH_REGISTRY" myapp01 -60 3600
out=$(publish_with_token ./myapp01_token "$PAYLOAD") || fail "valid again, yet refused: $out"
pass "the same token inside its window is accepted"
