# conf-examples/mosquitto works as it is: its try-it script starts the broker
# with the example files and shows the accepted and refused clients.
source "$TESTLIB"
source "$BROKER_LIB"
# try-it.sh starts the broker the way an operator would: without libasan.
[ -z "${MOSQUITTO_PRELOAD:-}" ] || { echo "skip: the examples run an unsanitized broker"; exit 77; }
out=$(PLUGIN="$PLUGIN" KEYTOOL="$KEYTOOL" "$CONF_EXAMPLES/try-it.sh" 2>&1) ||
    fail "try-it.sh failed: $out"
expect_contains "$out" "keyauth: MQTT token authentication enabled" "start-up message"
expect_eq "$(grep -c '^accepted$' <<<"$out")" 2 "accepted clients (a token, a certificate)"
expect_eq "$(grep -ci 'not authori[sz]ed' <<<"$out")" 4 "refused clients"
expect_contains "$out" "keyauth: refused MQTT client 'someone-else'" "log of the refusal"
pass "the example configuration accepts and refuses as documented"
