# What etcd holds at /keyauth/ca_cert becomes the hosts' ca_cert.pem, which
# nginx and mosquitto load at their next start: bytes that are not one PEM
# certificate of a CA (garbage, a certificate with more after it, a client's
# certificate) are refused, said once, and the file kept; keyauth-sync goes
# on applying changes, and a good CA certificate is installed.
source "$FLEET_LIB"
start_one_host_fleet 30 alice bob carol dave
ca=$(host_dir 1)/ca_cert.pem
cp "$ca" "$WORK/fleet_ca.pem"

# put_ca FILE, then a del of ID: the del is applied, the file unchanged.
refused_then_del() {
    etcdctl --endpoints "$ETCD" put /keyauth/ca_cert <"$1" >/dev/null
    admin del "$2" >/dev/null
    wait_on_host 1 refused "$2_token" 10
    kill -0 "${SYNC_PID[1]}" 2>/dev/null || fail "keyauth-sync died: $(tail -n 5 "$WORK/sync1.log")"
    cmp -s "$ca" "$WORK/fleet_ca.pem" || fail "ca_cert.pem replaced by $1's bytes"
}
echo "not a certificate" >"$WORK/garbage.pem"
refused_then_del "$WORK/garbage.pem" bob
{ cat "$WORK/fleet_ca.pem"; echo "trailing"; } >"$WORK/trailing.pem"
refused_then_del "$WORK/trailing.pem" carol
refused_then_del alice_cert.pem dave
sleep 11  # a heartbeat or more: each reads the CA certificate again
log=$(cat "$WORK/sync1.log")
expect_contains "$log" "etcd's CA certificate refused (not a PEM certificate): $ca kept as it is" "host 1's log"
expect_contains "$log" "etcd's CA certificate refused (more than one certificate)" "host 1's log"
expect_contains "$log" "etcd's CA certificate refused (not a CA certificate)" "host 1's log"
expect_eq "$(grep -c "etcd's CA certificate refused" "$WORK/sync1.log")" 3 "refusals said (once each)"
host_verify 1 alice_token || fail "alice refused on host 1"
pass "garbage, a certificate with more after it, a client's certificate: refused once each, file kept, dels applied"

# Another registry's CA: one PEM certificate of a CA, installed.
keytool --registry "$WORK/other" init >/dev/null
etcdctl --endpoints "$ETCD" put /keyauth/ca_cert <"$WORK/other/ca_cert.pem" >/dev/null
wait_until 10 "the new CA certificate installed" cmp -s "$ca" "$WORK/other/ca_cert.pem"
pass "a CA certificate from etcd installed"
