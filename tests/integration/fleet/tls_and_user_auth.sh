# etcd over TLS with client certificates and its own users: keytool and
# keyauth-sync reach it with --etcd-cacert/--etcd-cert/--etcd-key and a user
# whose password is in a file; a wrong password, an unknown CA or no user is
# refused loudly. (etcd's gateway refuses client certificates with a CN when
# it checks them: the fleet's has none, see docs/FLEET.md.)
source "$FLEET_LIB"

cat >ext.cnf <<'CNF'
[server]
subjectAltName=IP:127.0.0.1
# etcd's gateway dials its own gRPC port with the server's certificate
extendedKeyUsage=serverAuth,clientAuth
[client]
extendedKeyUsage=clientAuth
CNF
pki() { openssl "$@" 2>/dev/null; }
pki req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout etcd-ca-key.pem \
    -out etcd-ca.pem -days 2 -subj /CN=etcd-test-ca
for who in server client; do
    subject=/CN=etcd
    [ "$who" == server ] || subject=/O=keyauth  # no CN: see above
    pki req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$who-key.pem" \
        -out "$who.csr" -subj "$subject"
    pki x509 -req -in "$who.csr" -CA etcd-ca.pem -CAkey etcd-ca-key.pem -CAcreateserial \
        -out "$who.pem" -days 2 -extfile ext.cnf -extensions "$who"
done

port=$(free_port) peer=$(free_port)
etcd --name tls --data-dir "$WORK/etcd-tls" \
    --listen-client-urls "https://127.0.0.1:$port" --advertise-client-urls "https://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "tls=http://127.0.0.1:$peer" \
    --cert-file server.pem --key-file server-key.pem \
    --client-cert-auth --trusted-ca-file etcd-ca.pem >"$WORK/etcd-tls.log" 2>&1 &
at_exit "kill -KILL $! 2>/dev/null"
ETCD=https://127.0.0.1:$port
ctl() { etcdctl --endpoints "$ETCD" --cacert etcd-ca.pem --cert client.pem --key client-key.pem "$@"; }
wait_until 10 "etcd over TLS" ctl endpoint health
ctl user add root --new-user-password=root-secret >/dev/null
ctl role add keyauth-rw >/dev/null
ctl role grant-permission keyauth-rw --prefix=true readwrite /keyauth/ >/dev/null
ctl user add keyauth --new-user-password=s3cret-pass >/dev/null
ctl user grant-role keyauth keyauth-rw >/dev/null
wait_until 10 "auth enabled" ctl auth enable
echo s3cret-pass >password && chmod 600 password
echo wrong-pass >wrong && chmod 600 wrong

TLS=(--etcd-cacert etcd-ca.pem --etcd-cert client.pem --etcd-key client-key.pem)
admin() { keytool --registry "$ADMIN" --etcd "$ETCD" "${TLS[@]}" --etcd-user keyauth --etcd-password-file password "$@"; }
admin init >/dev/null
admin_gen alice
KEYAUTH_ETCD_PASSWORD_FILE=$WORK/password KEYAUTH_ETCD_USER=keyauth \
    KEYAUTH_ETCD_CACERT=$WORK/etcd-ca.pem KEYAUTH_ETCD_CERT=$WORK/client.pem \
    KEYAUTH_ETCD_KEY=$WORK/client-key.pem \
    "$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$(host_dir 1)" >>"$WORK/sync1.log" 2>&1 &
SYNC_PID[1]=$!
at_exit "kill -KILL ${SYNC_PID[1]} 2>/dev/null"
wait_on_host 1 valid ./alice_token
admin del alice >/dev/null
wait_on_host 1 refused ./alice_token
pass "over TLS with a client certificate and user keyauth (password from files or the environment): gen and del replicated"

out=$(keytool --registry "$ADMIN" --etcd "$ETCD" "${TLS[@]}" --etcd-user keyauth --etcd-password-file wrong gen bob 2>&1) &&
    fail "a wrong password was accepted"
expect_contains "$out" "etcd refused user keyauth" "wrong password"
out=$(keytool --registry "$ADMIN" --etcd "$ETCD" "${TLS[@]}" gen bob 2>&1) && fail "no user was accepted"
expect_contains "$out" "user name is empty" "no user"
out=$(keytool --registry "$ADMIN" --etcd "$ETCD" --etcd-cert client.pem --etcd-key client-key.pem \
    --etcd-user keyauth --etcd-password-file password gen bob 2>&1) && fail "an unverified etcd was trusted"
expect_contains "$out" "certificate" "etcd's certificate not verified"
[ ! -e ./bob_token ] || fail "a refused gen left files"
expect_not_contains "$(cat "$WORK/sync1.log") $out" "s3cret-pass" "logs and messages"
pass "wrong password, no user, an etcd whose CA is not given: refused loudly, no password in any message"
