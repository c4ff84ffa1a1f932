# With every log type on, neither accepted nor refused CONNECTs put a token
# secret into the broker log.
source "$TESTLIB"
source "$BROKER_LIB"
keytool gen myapp01 >/dev/null
keytool gen gone >/dev/null
start_broker
keytool del gone >/dev/null

token=$(cat ./myapp01_token)
mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$token" -t db/write/EXAMPLE \
    -m "$PAYLOAD" || fail "token refused"
mosquitto_pub -V 5 -h 127.0.0.1 -p "$TOKEN_PORT" --username "$token" --pw x \
    -t db/write/EXAMPLE -m "$PAYLOAD" || fail "token refused over MQTT 5"
mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat ./gone_token)" \
    -t db/write/EXAMPLE -m "$PAYLOAD" 2>/dev/null && fail "deleted token accepted"
mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username "${token}0" \
    -t db/write/EXAMPLE -m "$PAYLOAD" 2>/dev/null && fail "malformed token accepted"
stop_broker
grep -q "keyauth: refused" "$BROKER_LOG" || fail "refusals were not logged"
expect_no_secret_in_log
pass "no token secret in the broker log"
