# A live session is disconnected when its client's validity ends, with no
# further change to the registry.
source "$TESTLIB"
source "$BROKER_LIB"
for id in alice bob; do keytool gen "$id" >/dev/null; done
start_broker

start_subscriber alice -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice:sub
start_subscriber bob -p "$TOKEN_PORT" --username "$(cat ./bob_token)" --id bob:sub
# Valid for two more seconds (not_after is inclusive).
"$SET_VALIDITY" "$KEYAUTH_REGISTRY" alice -60 2
sleep 1
! grep -q "disconnecting MQTT client 'alice:sub'" "$BROKER_LOG" || fail "dropped while still valid"
expect_in_log "disconnecting MQTT client 'alice:sub' of 'alice': expired" "expiry" 4
wait_for_exit alice
! grep -q "disconnecting MQTT client 'bob:sub'" "$BROKER_LOG" || fail "bob was dropped"
pass "alice dropped when her validity ended; bob stayed"
