# etcd replaced by another store whose revision is already ahead of host 1's
# (a new cluster, re-initialised and written to while host 1's keyauth-sync
# was down): host 1 must not replay the new store's revisions on top of its
# old state. It sees another fleet id, refuses to lose its clients (HELD),
# keeps serving them, and rebuilds once the operator accepts the new fleet.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
start_host 1
start_nginx 1
admin_gen alice bob carol
wait_on_host 1 valid ./carol_token
old_revision=$(etcd_revision)

stop_host 1
for m in 1 2 3; do stop_member "$m"; rm -rf "$WORK/etcd$m"; done
for m in 1 2 3; do start_member "$m"; done
wait_until 20 "the new cluster healthy" etcdctl --endpoints "$ETCD" endpoint health
admin init >/dev/null
admin_gen dave
for n in $(seq 1 20); do etcdctl --endpoints "$ETCD" put /unrelated/key "$n" >/dev/null; done
[ "$(etcd_revision)" -gt "$old_revision" ] || fail "the new etcd is not ahead"
pass "etcd replaced: the new store at revision $(etcd_revision), ahead of host 1's $old_revision"

start_host 1
wait_until 15 "host 1 noticing another fleet" grep -q "fleet id" "$WORK/sync1.log"
wait_until 10 "host 1 held" grep -q "HELD" "$WORK/sync1.log"
sleep 1
expect_eq "$(http_status 1 ./alice_token)" "200" "nginx with alice, held"
host_refuses 1 ./dave_token || fail "host 1 replayed the new store's dave onto its old state"
status_says_held 1
pass "another fleet id: no replay; host 1 serves its last state and says HELD"

accept_new_fleet 1
wait_on_host 1 valid ./dave_token
wait_for_status 1 ./alice_token 401
wait_for_status 1 ./dave_token 200
host_digest_equal 1 >/dev/null || fail "host 1 differs from the new etcd"
expect_contains "$(keytool --registry "$(host_dir 1)" status)" "state:         current" "status"
pass "accepted by the operator: host 1 rebuilt from the new fleet and equals it"
