# Once `keytool del` removed a client, its token is refused at the next
# CONNECT, with no broker restart.
source "$TESTLIB"
source "$BROKER_LIB"
keytool gen myapp01 >/dev/null
start_broker

out=$(publish_with_token ./myapp01_token "$PAYLOAD") || fail "refused before del: $out"
expect_eq "$(keytool del myapp01)" "deleted" "keytool del"
out=$(publish_with_token ./myapp01_token "$PAYLOAD") && fail "deleted token accepted"
expect_refused "$out" "deleted token"
expect_in_log "token of 'myapp01': unknown client" "refusal logged"
pass "deleted token refused"
