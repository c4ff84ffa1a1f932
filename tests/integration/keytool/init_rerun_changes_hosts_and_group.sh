# keytool init run again with --host or --group: a new server certificate for
# the hosts, or a new readers' group; the CA and every client are kept.
source "$TESTLIB"
r=$KEYAUTH_REGISTRY

keytool init --host a.example --group www-data >/dev/null
keytool gen myapp01 >/dev/null
ca_before=$(sha256sum "$r/ca_cert.pem" "$r/ca_key.pem")

out=$(keytool init --host b.example --host 127.0.0.1)
expect_contains "$out" "Updated registry $r (CA and clients kept)" "re-run output"
expect_contains "$out" "Restart mosquitto and reload nginx" "tells to reload"
san=$(openssl x509 -in "$r/server_cert.pem" -noout -ext subjectAltName)
expect_contains "$san" "DNS:b.example" "new host"
expect_contains "$san" "IP Address:127.0.0.1" "new address"
expect_not_contains "$san" "a.example" "old host"
expect_eq "$(openssl verify -CAfile "$r/ca_cert.pem" -purpose sslserver "$r/server_cert.pem")" \
    "$r/server_cert.pem: OK" "new server certificate signed by the same CA"
expect_eq "$(sha256sum "$r/ca_cert.pem" "$r/ca_key.pem")" "$ca_before" "CA kept"
[ "$(openssl x509 -in "$r/server_cert.pem" -noout -pubkey)" == \
  "$(openssl pkey -in "$r/server_key.pem" -pubout)" ] || fail "server key does not match"
for f in server_cert.pem server_key.pem; do
    expect_mode "$r/$f" 640
    expect_eq "$(stat -c %G "$r/$f")" "www-data" "group of the new $f"
done
keytool verify - <myapp01_token >/dev/null || fail "client lost by a new server certificate"

out=$(keytool init --group mosquitto)
expect_contains "$out" "Readable by group mosquitto" "group output"
expect_mode "$r" 2750
for f in . server_cert.pem server_key.pem data.mdb commit.seq lookup.idx; do
    expect_eq "$(stat -c %G "$r/$f")" "mosquitto" "group of $f"
done
expect_mode "$r/ca_key.pem" 600
expect_eq "$(sha256sum "$r/ca_cert.pem" "$r/ca_key.pem")" "$ca_before" "CA kept"
setpriv --reuid=mosquitto --regid=mosquitto --clear-groups "$KEYTOOL" verify - <myapp01_token |
    grep -q "valid: client myapp01" || fail "the new group cannot read the registry"
if setpriv --reuid=www-data --regid=www-data --clear-groups cat "$r/server_key.pem" 2>/dev/null; then
    fail "the old group still reads the server key"
fi

before=$(tree_snapshot "$r")
if keytool init --group no-such-group-here 2>err; then fail "unknown group accepted"; fi
expect_eq "$(cat err)" "keytool: no group named no-such-group-here" "unknown group"
if keytool init --host 'bad host' 2>err; then fail "bad host accepted"; fi
expect_eq "$(tree_snapshot "$r")" "$before" "registry after refused re-runs"
pass "init re-run changes hosts and group, keeps the CA and clients"
