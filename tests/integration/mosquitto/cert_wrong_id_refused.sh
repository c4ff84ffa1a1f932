# With a registered certificate, an MQTT client id other than the registered
# id is refused (and so is leaving the id to the broker).
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients myapp01 other
start_broker

for id in other myapp02; do
    out=$(publish_with_certificate ./myapp01 "$PAYLOAD" --id "$id") && fail "client id $id accepted"
    expect_refused "$out" "client id $id"
    pass "myapp01's certificate refused with client id $id"
done
out=$(mosquitto_pub -h 127.0.0.1 -p "$TLS_PORT" --cafile ./server.crt \
    --cert ./myapp01_cert.pem --key ./myapp01_key.pem -t db/append/EXAMPLE -m "$PAYLOAD" 2>&1) &&
    fail "client id chosen by the broker accepted"
expect_refused "$out" "client id chosen by the broker"
pass "myapp01's certificate refused with a client id chosen by the broker"
expect_in_log "certificate of 'myapp01': MQTT client id is not the client's \(set it to the registered id" "logged"
