# keytool init --host --group: layout, modes, group and subjectAltNames.
source "$TESTLIB"

out=$(keytool init --host broker.example --host 127.0.0.1 --host ::1 --group www-data)
expect_contains "$out" "Initialized registry $KEYAUTH_REGISTRY" "init output"
r=$KEYAUTH_REGISTRY
expect_mode "$r" 2750
expect_eq "$(stat -c %G "$r")" "www-data" "directory group"
expect_mode "$r/ca_cert.pem" 644
expect_mode "$r/ca_key.pem" 600
expect_mode "$r/server_cert.pem" 640
expect_mode "$r/server_key.pem" 640
expect_mode "$r/data.mdb" 640
expect_mode "$r/commit.seq" 640
expect_mode "$r/lookup.idx" 640
keytool gen first >/dev/null
expect_mode "$r/writer.lock" 600
[ ! -e "$r/lock.mdb" ] || fail "LMDB's lock.mdb exists: readers could write it"
for f in server_cert.pem server_key.pem data.mdb commit.seq lookup.idx; do
    expect_eq "$(stat -c %G "$r/$f")" "www-data" "group of $f"
done
[ "$(stat -c %G "$r/ca_key.pem")" != "www-data" ] || fail "CA key readable by the group"
[ "$(stat -c %G "$r/writer.lock")" != "www-data" ] || fail "writer lock reachable by the group"
# The servers' user can write nothing in the registry.
writable=$(setpriv --reuid=www-data --regid=www-data --init-groups find "$r" -writable)
expect_eq "$writable" "" "files www-data can write"

san=$(openssl x509 -in "$r/server_cert.pem" -noout -ext subjectAltName)
expect_contains "$san" "DNS:broker.example" "DNS SAN"
expect_contains "$san" "IP Address:127.0.0.1" "IPv4 SAN"
expect_contains "$san" "IP Address:0:0:0:0:0:0:0:1" "IPv6 SAN"
expect_eq "$(openssl verify -CAfile "$r/ca_cert.pem" -purpose sslserver "$r/server_cert.pem")" \
    "$r/server_cert.pem: OK" "server certificate verifies"

# The group can read what the servers need, and not the CA key.
setpriv --reuid=www-data --regid=www-data --clear-groups cat "$r/server_key.pem" >/dev/null \
    || fail "www-data cannot read the server key"
if setpriv --reuid=www-data --regid=www-data --clear-groups cat "$r/ca_key.pem" 2>/dev/null; then
    fail "www-data can read the CA key"
fi
keytool gen myapp01 >/dev/null 2>&1
setpriv --reuid=www-data --regid=www-data --clear-groups "$KEYTOOL" verify - <myapp01_token \
    | grep -q "valid: client myapp01" || fail "www-data cannot verify through the registry"

before=$(tree_snapshot "$r")
if keytool init 2>err; then fail "second init accepted"; fi
expect_eq "$(cat err)" "keytool: registry $r is already initialized" "second init"
expect_eq "$(tree_snapshot "$r")" "$before" "registry after a refused init"
pass "init lays out the registry with exact modes and group"
