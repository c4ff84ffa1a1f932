# `keytool gen --force` replaces the token: the old one is refused, the new
# one accepted.
source "$TESTLIB"
source "$BROKER_LIB"
keytool gen myapp01 >/dev/null
cp ./myapp01_token ./old_token
start_broker

keytool gen myapp01 --force >/dev/null
out=$(publish_with_token ./old_token "$PAYLOAD") && fail "old token accepted after re-issue"
expect_refused "$out" "old token"
out=$(publish_with_token ./myapp01_token "$PAYLOAD") || fail "new token refused: $out"
pass "re-issue replaced the token"
