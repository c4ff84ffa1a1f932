# SIGHUP while the registry cannot be read: the broker re-runs BASIC_AUTH for
# every live session, and an unreadable registry is no more a revocation
# there than on the tick: token and certificate sessions stay.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice
start_broker "plugin_opt_registry_error_grace 5"

start_subscriber alice-token -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice:sub
start_subscriber alice-cert -p "$TLS_PORT" --id alice \
    --cert ./alice_cert.pem --key ./alice_key.pem --cafile ./server.crt

# A copy the broker's user cannot enter, in the registry's place.
mode=$(stat -c %a "$KEYAUTH_REGISTRY")
cp -a "$KEYAUTH_REGISTRY" "$WORK/copy"
chmod 700 "$WORK/copy"
mv "$KEYAUTH_REGISTRY" "$WORK/registry.old" && mv "$WORK/copy" "$KEYAUTH_REGISTRY"
expect_in_log "unreadable: keeping 2 live sessions" "the tick saw the error" 2

kill -HUP "$BROKER_PID"
expect_in_log "Reloading config" "reload"
sleep 1
! grep -Eq "keyauth: (refused|disconnecting)" "$BROKER_LOG" ||
    fail "a live session was refused on reload: $(grep keyauth "$BROKER_LOG")"
pass "SIGHUP with an unreadable registry: live sessions kept"

chmod "$mode" "$KEYAUTH_REGISTRY"
sleep 0.5
out=$(publish_with_token ./alice_token "readable again") || fail "alice refused: $out"
wait_for_output alice-token "readable again"
wait_for_output alice-cert "readable again"
pass "readable again: both sessions still receive"
