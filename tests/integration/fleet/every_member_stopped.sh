# Every etcd member stopped: the hosts keep serving what they had, admin
# writes fail loudly and change nothing, the replicas say they are stale;
# after the members restart, the replicas catch up.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
for i in 1 2; do start_host "$i"; done
start_broker 1
start_nginx 2
admin_gen alice bob
for i in 1 2; do wait_on_host "$i" valid ./bob_token; done

for m in 1 2 3; do stop_member "$m"; done
wait_until 10 "host 1's sync noticing" grep -q "etcd unreachable" "$WORK/sync1.log"
out=$(publish 1 ./alice_token "during the outage") || fail "host 1's broker refused alice during the outage: $out"
expect_eq "$(http_status 2 ./alice_token)" "200" "host 2's nginx during the outage"
pass "through the outage, host 1's broker and host 2's nginx keep serving"

start=$(now_millis)
out=$(admin gen carol --output ./carol 2>&1) && fail "gen succeeded with etcd down"
expect_contains "$out" "etcd" "gen with etcd down"
[ ! -e ./carol_token ] || fail "the failed gen left carol's token"
out=$(admin del bob 2>&1) && fail "del succeeded with etcd down"
expect_contains "$out" "etcd" "del with etcd down"
host_verify 1 ./bob_token || fail "bob no longer valid on host 1"
pass "admin gen and del fail loudly ($(( $(now_millis) - start )) ms for both), leaving nothing: [$out]"

sleep 2
out=$(keytool --registry "$(host_dir 1)" status --stale-after 1) && fail "status did not report stale"
expect_contains "$out" "STALE" "keytool status during the outage"
pass "keytool status on host 1: $(grep state: <<<"$out")"

for m in 1 2 3; do start_member "$m"; done
wait_until 20 "etcd back" etcdctl --endpoints "$ETCD" endpoint health
admin del bob >/dev/null
admin_gen carol
for i in 1 2; do
    wait_on_host "$i" refused ./bob_token 10
    wait_on_host "$i" valid ./carol_token 10
done
expect_eq "$(http_status 2 ./bob_token)" "401" "host 2's nginx with bob after catching up"
publish 1 ./carol_token "after the outage" >/dev/null || fail "host 1's broker refused carol"
wait_until 10 "host 1 reporting etcd back" grep -q "etcd reachable again" "$WORK/sync1.log"
expect_contains "$(keytool --registry "$(host_dir 1)" status)" "state:         current" "status after"
pass "after the restart: bob refused and carol accepted on both hosts; status current"
