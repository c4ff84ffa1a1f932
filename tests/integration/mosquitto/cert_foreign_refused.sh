# Certificates keytool did not issue are refused: one from a foreign CA
# (by TLS), and one our CA signed outside keytool for a registered id (by
# the plugin: its fingerprint is not registered).
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients myapp01
start_broker

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=Foreign CA" -keyout foreign_ca_key.pem -out foreign_ca.pem 2>/dev/null
# sign_client PREFIX CA-CERT CA-KEY: a client certificate for CN=myapp01.
sign_client() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=myapp01" -keyout "$1_key.pem" -out "$1.csr" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$2" -CAkey "$3" -CAcreateserial -days 30 \
        -out "$1_cert.pem" 2>/dev/null
}
mkdir foreign forged
sign_client foreign/myapp01 foreign_ca.pem foreign_ca_key.pem
sign_client forged/myapp01 "$KEYAUTH_REGISTRY/ca_cert.pem" "$KEYAUTH_REGISTRY/ca_key.pem"

out=$(publish_with_certificate foreign/myapp01 "$PAYLOAD") && fail "foreign CA's certificate accepted"
pass "certificate from a foreign CA refused ($(head -n1 <<<"$out"))"
out=$(publish_with_certificate forged/myapp01 "$PAYLOAD") && fail "unregistered certificate accepted"
expect_refused "$out" "unregistered certificate of our CA"
expect_in_log "refused MQTT client 'myapp01' from 127\.0\.0\.1: certificate: unknown client" "logged"
pass "certificate signed by our CA but not issued by keytool refused"
