# A registered certificate completes CONNECT on the TLS listener, verified
# against `keytool server-cert` without --insecure, by address and by name;
# a username there is ignored.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients myapp01 reader
start_broker

start_subscriber reader -p "$TOKEN_PORT" --username "$(cat ./reader_token)" --id reader
for host in 127.0.0.1 localhost; do
    out=$(mosquitto_pub -h "$host" -p "$TLS_PORT" --id myapp01 \
        --cert ./myapp01_cert.pem --key ./myapp01_key.pem --cafile ./server.crt \
        --username "not-a-token" -t db/append/EXAMPLE -m "via $host" 2>&1) ||
        fail "certificate refused via $host: $out"
    wait_for_output reader "via $host"
    pass "registered certificate accepted via $host without --insecure"
done
expect_in_log "as myapp01 \(p2, c1, k60, u'myapp01'\)" "the broker knows the client by its id"
