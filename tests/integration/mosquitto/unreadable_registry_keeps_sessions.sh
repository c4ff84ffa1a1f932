# A registry the broker cannot read is not a revocation: live sessions stay
# (new connections are refused) and the broker says so once; a client
# deleted meanwhile is dropped as soon as the registry answers again; an
# error that outlasts plugin_opt_registry_error_grace (3 s here) drops them.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob carol
start_broker "plugin_opt_registry_error_grace 3"

start_subscriber alice-token -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice:sub
start_subscriber bob-token -p "$TOKEN_PORT" --username "$(cat ./bob_token)" --id bob:sub
start_subscriber bob-cert -p "$TLS_PORT" --id bob \
    --cert ./bob_cert.pem --key ./bob_key.pem --cafile ./server.crt

disconnects() { grep -c "disconnecting MQTT client" "$BROKER_LOG" || true; }

make_registry_unreadable
T0=$(now_millis)
sleep 0.3
if out=$(publish_with_token ./carol_token "while unreadable"); then fail "carol admitted"; fi
expect_refused "$out" "a new connection while the registry is unreadable"
# keytool, as root, still writes; the broker cannot see it yet.
keytool del alice >/dev/null
sleep 1.2
expect_eq "$(disconnects)" "0" "sessions dropped $(($(now_millis) - T0)) ms into the error: $(sweeps)"
expect_in_log "registry $KEYAUTH_REGISTRY unreadable: keeping 3 live sessions for up to 3 s" \
    "the broker says why it keeps them"
pass "unreadable registry: live sessions kept, new connections refused"

make_registry_readable
expect_dropped "$(now_millis)" alice "unknown client" alice:sub
expect_in_log "registry $KEYAUTH_REGISTRY readable again" "the broker says it answers again"
out=$(publish_with_token ./carol_token "readable again") || fail "carol refused: $out"
wait_for_output bob-token "readable again"
wait_for_output bob-cert "readable again"
expect_eq "$(disconnects)" "1" "sessions dropped after the registry answered: $(sweeps)"
pass "readable again: alice, deleted meanwhile, dropped; bob's sessions kept and receiving"

make_registry_unreadable
T1=$(now_millis)
sleep 2.5
expect_eq "$(disconnects)" "1" "bob dropped $(($(now_millis) - T1)) ms into the error: $(sweeps)"
why="registry unavailable for longer than plugin_opt_registry_error_grace"
tries=100
until [ "$(grep -c "of 'bob': $why" "$BROKER_LOG")" -eq 2 ]; do
    [ $((tries -= 1)) -gt 0 ] || fail "bob's sessions not dropped 7.5 s into the error: $(sweeps)"
    sleep 0.05
done
elapsed=$(($(now_millis) - T1))
[ "$elapsed" -ge 3000 ] && [ "$elapsed" -le 5500 ] ||
    fail "bob's sessions dropped $elapsed ms after the registry became unreadable (grace 3 s)"
expect_eq "$(grep -c "unreadable: keeping" "$BROKER_LOG")" "2" "one warning per error, not per tick"
pass "an error longer than the grace drops the sessions ($elapsed ms after it began)"
make_registry_readable
