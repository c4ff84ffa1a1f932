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

# A registered id as username and no password (a tool's separate fields, the
# password left out): refused, and the log says what is missing.
keytool gen alice >/dev/null
out=$(mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --id alice --username alice \
    -t db/write/EXAMPLE -m "$PAYLOAD" 2>&1) && fail "accepted a client id without a password"
expect_refused "$out" "username alice, no password"
expect_in_log "refused MQTT client 'alice' from 127\.0\.0\.1: token: password missing \(the username is a client id" \
    "the log names the missing password"
pass "a client id as username without a password: refused, the log says the password is missing"
