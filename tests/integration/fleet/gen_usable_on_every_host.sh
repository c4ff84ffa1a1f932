# `keytool --etcd ... gen alice` on the administrator's host: alice's token is
# accepted by the broker and nginx of hosts 1 and 2 and by host 3's replica,
# none of which was touched; the hosts got the CA certificate, never its key.
source "$FLEET_LIB"
start_etcd_cluster
admin init --host 127.0.0.1 >/dev/null
for i in 1 2 3; do start_host "$i"; done
for i in 1 2; do start_broker "$i"; start_nginx "$i"; done

admin_gen alice
for i in 1 2 3; do wait_on_host "$i" valid ./alice_token; done
for i in 1 2; do
    out=$(publish "$i" ./alice_token "hello from alice") || fail "host $i's broker refused alice: $out"
    expect_eq "$(http_status "$i" ./alice_token)" "200" "host $i's nginx with alice's token"
done
pass "alice, made once through etcd, accepted by the brokers and nginx of hosts 1 and 2, and host 3"

for i in 1 2 3; do
    cmp -s "$ADMIN/ca_cert.pem" "$(host_dir "$i")/ca_cert.pem" || fail "host $i lacks the fleet's CA certificate"
    [ ! -e "$(host_dir "$i")/ca_key.pem" ] || fail "host $i holds the CA key"
    expect_mode "$(host_dir "$i")/data.mdb" 640
    expect_mode "$(host_dir "$i")/commit.seq" 640
    expect_mode "$(host_dir "$i")/writer.lock" 600
    expect_eq "$(stat -c %G "$(host_dir "$i")/data.mdb")" mosquitto "group of host $i's data.mdb"
done
! etcdctl --endpoints "$ETCD" get --prefix /keyauth/ | grep -q "PRIVATE KEY" || fail "a private key in etcd"
pass "every host has the CA certificate, no CA key; etcd holds no private key"

out=$(admin gen alice --output ./alice2 2>&1) && fail "a second gen alice succeeded"
expect_contains "$out" "already exists" "second gen alice"
[ ! -e ./alice2_token ] || fail "the refused gen left files"
pass "an id is unique across the fleet: a second gen alice refused, no files left"

# A server certificate for host 1's own name, signed by the fleet's CA.
admin server-cert --issue --host host1.example --host 127.0.0.2 --output ./host1 >/dev/null
openssl verify -CAfile "$(host_dir 1)/ca_cert.pem" ./host1_cert.pem >/dev/null ||
    fail "host 1's server certificate does not chain to the fleet's CA"
expect_contains "$(openssl x509 -in ./host1_cert.pem -noout -ext subjectAltName)" \
    "DNS:host1.example, IP Address:127.0.0.2" "host 1's server certificate names"
expect_mode ./host1_key.pem 600
pass "server-cert --issue: a server certificate for another host's names"

expect_contains "$(keytool --registry "$(host_dir 3)" status)" "state:         current" "keytool status on host 3"
host_digest_equal 3 >/dev/null || fail "host 3's digest differs from etcd's"
pass "keytool status: current; host 3 equal to etcd by digest"
