# A replica changed behind keyauth-sync's back (a local `keytool del --force`)
# differs from etcd by digest: the periodic check rebuilds it from etcd.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
DIGEST_INTERVAL=1 start_host 1
admin_gen alice bob
wait_on_host 1 valid ./bob_token

keytool --registry "$(host_dir 1)" del bob --force >/dev/null
wait_until 10 "the digest check" grep -q "digest mismatch" "$WORK/sync1.log"
wait_on_host 1 valid ./bob_token 5
host_digest_equal 1 >/dev/null || fail "host 1 differs from etcd"
pass "the local change found by digest and undone: bob valid again, host 1 equal to etcd"
