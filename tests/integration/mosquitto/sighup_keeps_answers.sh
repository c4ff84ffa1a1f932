# SIGHUP makes the broker re-run authentication for every connected client:
# live token and certificate sessions stay, and refusals stay refusals.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob
start_broker

start_subscriber alice-token -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice:sub
start_subscriber alice-cert -p "$TLS_PORT" --id alice \
    --cert ./alice_cert.pem --key ./alice_key.pem --cafile ./server.crt
kill -HUP "$BROKER_PID"
expect_in_log "Reloading config" "reload"
sleep 0.5
out=$(publish_with_token ./bob_token "after reload") || fail "bob refused after reload: $out"
wait_for_output alice-token "after reload"
wait_for_output alice-cert "after reload"
! grep -q "keyauth: refused" "$BROKER_LOG" || fail "a session was refused on reload"
pass "token and certificate sessions kept across SIGHUP"

out=$(mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username alice \
    -t db/write/EXAMPLE -m "$PAYLOAD" 2>&1) && fail "a bare id accepted as token after reload"
expect_refused "$out" "bare id as username"
pass "a registered id is no token, even after reload"
expect_no_secret_in_log
