# `keytool gen --force` re-issues a client: the sessions that used the old
# token or certificate are disconnected; the new credentials work.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob
start_broker

# The old files stay with the old sessions: gen --force rewrites ./alice_*.
mkdir old && cp ./alice_* old/
start_subscriber alice-token -p "$TOKEN_PORT" --username "$(cat old/alice_token)" --id alice:sub
start_subscriber alice-cert -p "$TLS_PORT" --id alice \
    --cert old/alice_cert.pem --key old/alice_key.pem --cafile ./server.crt
start_subscriber bob-token -p "$TOKEN_PORT" --username "$(cat ./bob_token)" --id bob:sub

keytool gen alice --force >/dev/null
expect_dropped "$(now_millis)" alice re-issued alice:sub alice
pass "sessions of the old token and certificate dropped within $DROPPED_MS ms"
wait_for_exit alice-token
wait_for_exit alice-cert

start_subscriber alice-new -p "$TLS_PORT" --id alice \
    --cert ./alice_cert.pem --key ./alice_key.pem --cafile ./server.crt
out=$(publish_with_token ./alice_token "new token") || fail "new token refused: $out"
wait_for_output alice-new "new token"
wait_for_output bob-token "new token"
pass "new certificate and token accepted; bob undisturbed"
