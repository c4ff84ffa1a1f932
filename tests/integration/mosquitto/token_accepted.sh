# A registered token as the CONNECT username is accepted, over MQTT 3.1.1
# and MQTT 5, with no password; the broker says token auth is on.
source "$TESTLIB"
source "$BROKER_LIB"
keytool gen myapp01 >/dev/null
start_broker
expect_in_log "keyauth: MQTT token authentication enabled" "start-up message"

for version in mqttv311 5; do
    start_subscriber "sub-$version" -V "$version" -p "$TOKEN_PORT" \
        --username "$(cat ./myapp01_token)" --id "myapp01:reader-$version"
    out=$(mosquitto_pub -V "$version" -h 127.0.0.1 -p "$TOKEN_PORT" \
        --username "$(cat ./myapp01_token)" -t db/write/EXAMPLE -m "$PAYLOAD" 2>&1) ||
        fail "publish over $version refused: $out"
    wait_for_output "sub-$version" "$PAYLOAD"
    pass "token accepted over $version"
done
expect_in_log "u'myapp01'" "the broker knows the client by its registered id"
expect_no_secret_in_log
