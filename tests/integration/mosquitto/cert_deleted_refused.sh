# After `keytool del`, the client's certificate, still valid for TLS, is
# refused at CONNECT.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients myapp01
start_broker

out=$(publish_with_certificate ./myapp01 "$PAYLOAD") || fail "refused before del: $out"
keytool del myapp01 >/dev/null
out=$(publish_with_certificate ./myapp01 "$PAYLOAD") && fail "deleted client's certificate accepted"
expect_refused "$out" "deleted certificate"
expect_in_log "certificate: unknown client" "refusal logged"
pass "deleted client's certificate refused"
