# plugin_opt_clientid_match false: a registered certificate is accepted
# whatever MQTT client id it connects with, another client's too (the log
# warns at start); a deleted one still is not.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients myapp01
start_broker "plugin_opt_clientid_match false"
expect_in_log "WARNING: plugin_opt_clientid_match false: a client certificate may use ANY MQTT client id" \
    "the start warns that any id goes"

out=$(publish_with_certificate ./myapp01 "$PAYLOAD" --id sensor-7) || fail "refused: $out"
pass "certificate accepted with another client id"
keytool del myapp01 >/dev/null
out=$(publish_with_certificate ./myapp01 "$PAYLOAD" --id sensor-7) &&
    fail "deleted certificate accepted"
expect_refused "$out" "deleted certificate"
pass "deleted certificate still refused"
