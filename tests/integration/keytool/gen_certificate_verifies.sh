# The issued certificate verifies against server-cert and matches its key.
source "$TESTLIB"
keytool init >/dev/null

keytool gen myapp01 --output ./myapp01 >/dev/null 2>&1
out=$(keytool server-cert --output ./server.crt)
expect_eq "$out" "Save server certificate ./server.crt" "server-cert output"
expect_mode server.crt 644
cmp -s server.crt "$KEYAUTH_REGISTRY/ca_cert.pem" || fail "server.crt is not ca_cert.pem"
expect_eq "$(openssl verify -CAfile server.crt myapp01_cert.pem)" "myapp01_cert.pem: OK" "openssl verify"

# Key matches certificate.
cert_pub=$(openssl x509 -in myapp01_cert.pem -noout -pubkey)
key_pub=$(openssl pkey -in myapp01_key.pem -pubout)
expect_eq "$cert_pub" "$key_pub" "public key of certificate and key"

# The client certificate profile (docs/ARCHITECTURE.md).
text=$(openssl x509 -in myapp01_cert.pem -noout -text)
expect_contains "$text" "Subject: CN = myapp01" "subject"
expect_contains "$text" "CA:FALSE" "basicConstraints"
expect_contains "$text" "Digital Signature" "keyUsage"
expect_contains "$text" "TLS Web Client Authentication" "extendedKeyUsage"
expect_contains "$text" "ASN1 OID: prime256v1" "P-256"
serial=$(openssl x509 -in myapp01_cert.pem -noout -serial | cut -d= -f2)
[ "${#serial}" -ge 32 ] || fail "serial has fewer than 128 bits: $serial"
start=$(date -d "$(openssl x509 -in myapp01_cert.pem -noout -startdate | cut -d= -f2)" +%s)
end=$(date -d "$(openssl x509 -in myapp01_cert.pem -noout -enddate | cut -d= -f2)" +%s)
expect_eq "$(( (end - start) / 86400 ))" "1095" "default validity in days"

# server-cert without --output prints the same certificate.
keytool server-cert | cmp -s - server.crt || fail "server-cert to stdout"
pass "certificate verifies against server-cert, matches its key, has the client profile"
