# plugin_opt_token_auth false: tokens no longer admit anyone (the plugin
# leaves username/password to the broker's own settings, here none), while
# registered certificates still do.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients myapp01
start_broker "plugin_opt_token_auth false"
expect_in_log "keyauth: MQTT token authentication disabled" "start-up message"

out=$(publish_with_token ./myapp01_token "$PAYLOAD") && fail "token accepted with token auth off"
expect_refused "$out" "token with token auth off"
pass "token not accepted with token auth off"
out=$(publish_with_certificate ./myapp01 "$PAYLOAD") || fail "certificate refused: $out"
pass "certificate still accepted"
