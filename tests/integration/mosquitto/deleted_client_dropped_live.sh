# `keytool del alice` disconnects alice's live sessions, token and
# certificate alike, within one second; bob's stay and keep receiving.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob carol
start_broker

start_subscriber alice-token -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice:sub
start_subscriber alice-cert -p "$TLS_PORT" --id alice \
    --cert ./alice_cert.pem --key ./alice_key.pem --cafile ./server.crt
start_subscriber bob-token -p "$TOKEN_PORT" --username "$(cat ./bob_token)" --id bob:sub
start_subscriber bob-cert -p "$TLS_PORT" --id bob \
    --cert ./bob_cert.pem --key ./bob_key.pem --cafile ./server.crt

keytool del alice >/dev/null
expect_dropped "$(now_millis)" alice "unknown client" alice:sub alice
pass "alice's sessions dropped within $DROPPED_MS ms"

# Their reconnection attempts are refused, so the subscribers give up.
wait_for_exit alice-token
wait_for_exit alice-cert
expect_refused "$(cat "$WORK/alice-token.err")" "alice's token subscriber reconnecting"

out=$(publish_with_token ./carol_token "after del") || fail "carol refused: $out"
wait_for_output bob-token "after del"
wait_for_output bob-cert "after del"
for name in alice-token alice-cert; do
    ! grep -qF "after del" "$WORK/$name.out" || fail "$name received a message after del"
done
! grep -q "disconnecting MQTT client '[^']*' of 'bob'" "$BROKER_LOG" || fail "bob was dropped"
pass "bob's sessions stayed and received"
