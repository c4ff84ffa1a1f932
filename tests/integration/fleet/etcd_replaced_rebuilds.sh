# etcd's data replaced (a new cluster, or a restore from an older snapshot):
# its revision falls behind the replica's, which would otherwise wait forever
# for revisions that mean nothing there. keyauth-sync would rebuild from it,
# but that would drop every client it has: it holds until the operator
# accepts the new fleet, then rebuilds.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
start_host 1
admin_gen alice bob carol
wait_on_host 1 valid ./carol_token

for m in 1 2 3; do stop_member "$m"; rm -rf "$WORK/etcd$m"; done
for m in 1 2 3; do start_member "$m"; done
wait_until 20 "the new cluster healthy" etcdctl --endpoints "$ETCD" endpoint health
admin init >/dev/null
admin_gen dave
wait_until 15 "host 1 held" grep -q "HELD" "$WORK/sync1.log"
host_verify 1 ./alice_token || fail "host 1 dropped alice before the operator said so"
status_says_held 1
accept_new_fleet 1
wait_on_host 1 valid ./dave_token
wait_on_host 1 refused ./alice_token
host_digest_equal 1 >/dev/null || fail "host 1 differs from the new etcd"
pass "etcd replaced: host 1 held its clients, then, accepted, rebuilt and equals the new etcd"
