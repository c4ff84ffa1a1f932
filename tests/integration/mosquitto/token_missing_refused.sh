# CONNECT without a username (no token) is refused with "not authorized".
source "$TESTLIB"
source "$BROKER_LIB"
start_broker

for version in mqttv311 5; do
    out=$(mosquitto_pub -V "$version" -h 127.0.0.1 -p "$TOKEN_PORT" \
        -t db/write/EXAMPLE -m "$PAYLOAD" 2>&1) && fail "accepted without a token over $version"
    expect_refused "$out" "no token over $version"
    pass "no token refused over $version"
done
expect_in_log "keyauth: refused MQTT client .* from 127\.0\.0\.1: token: no credential" "refusal logged"
