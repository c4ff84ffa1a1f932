# `keytool rotate --grace`: the replaced token and certificate keep working,
# and their live sessions stay connected, until the grace ends; then, with no
# further command, they are refused and their sessions cut within a second.
# A session on the new token stays.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob
start_broker

# The old files stay with the old sessions: rotate --force rewrites ./alice_*.
mkdir old && cp ./alice_* old/
start_subscriber alice-old-token -p "$TOKEN_PORT" --username "$(cat old/alice_token)" --id alice:old

keytool rotate alice --grace 5s --force >/dev/null
until=$(keytool show alice --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["previous_not_after"])')
# A CONNECT with the old certificate in the grace (a certificate session's
# client id is the registered id: one such session at a time).
start_subscriber alice-old-cert -p "$TLS_PORT" --id alice \
    --cert old/alice_cert.pem --key old/alice_key.pem --cafile ./server.crt
start_subscriber alice-new-token -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice:new
out=$(publish_with_token old/alice_token "old token in its grace") ||
    fail "the old token was refused in its grace: $out"
for name in alice-old-token alice-old-cert alice-new-token; do
    wait_for_output "$name" "old token in its grace"
done
pass "in the grace: the old token and certificate admitted, every session kept"

# Nothing is cut before the grace's last second is over.
while [ "$(date +%s)" -le "$until" ]; do
    ! grep -q "disconnecting MQTT client '[^']*' of 'alice'" "$BROKER_LOG" ||
        fail "alice's sessions were cut before the grace ended ($(date +%s) <= $until)"
    sleep 0.1
done
expect_dropped "$(( (until + 1) * 1000 ))" alice expired alice:old alice
pass "at the grace's end, with no command: the old sessions cut within $DROPPED_MS ms"
wait_for_exit alice-old-token
wait_for_exit alice-old-cert

expect_refused "$(publish_with_token old/alice_token "old token after the grace")" \
    "the old token after the grace"
expect_refused "$(publish_with_certificate old/alice "old certificate after")" \
    "the old certificate after the grace"
out=$(publish_with_token ./alice_token "new token after the grace") ||
    fail "the new token was refused: $out"
wait_for_output alice-new-token "new token after the grace"
! grep -q "disconnecting MQTT client 'alice:new'" "$BROKER_LOG" || fail "the new session was cut"
pass "after the grace: the old credentials refused, the new session untouched"
expect_no_secret_in_log
