# etcd's revision moves with every write, this fleet's or not (hosts
# publishing last use under /keyauth-usage/, other programs sharing etcd).
# A host whose own revision stayed at the fleet's last change had its watch
# compacted away and rebuilt its registry (every host at once, at a million
# clients minutes each). Now a host that proves nothing under /keyauth/
# changed takes etcd's revision as its own, and after a restart too:
# compaction finds nothing to force, and a del afterwards is applied as ever.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
admin_gen alice bob
port=$(free_port)
DIGEST_INTERVAL=1 start_host 1 --metrics "127.0.0.1:$port"
metrics() { curl -s "http://127.0.0.1:$port/metrics"; }
value() { metrics | awk -v name="$1" '$1 == name {print $2}'; }
value_is() { [ "$(value "$1")" == "$2" ]; }
wait_until 20 "host 1 at etcd's revision" value_is keyauth_sync_applied_revision "$(etcd_revision)"

for i in 1 2 3; do etcdctl --endpoints "$ETCD" put "/elsewhere/key$i" "value$i" >/dev/null; done
head=$(etcd_revision)
wait_until 20 "host 1 to take etcd's revision $head" value_is keyauth_sync_applied_revision "$head"
[ "$(value keyauth_sync_quiet_revisions_followed_total)" -ge 1 ] || fail "no quiet revision counted"
pass "writes outside /keyauth/: the host takes etcd's revision ($head) without a commit"

# Kept beside the registry, not committed (a commit would empty every
# server's caches for no client changed): a restart resumes from it.
stop_host 1
DIGEST_INTERVAL=1 start_host 1 --metrics "127.0.0.1:$port"
wait_until 10 "host 1 resuming at $head" grep -q "resuming at etcd revision $head\$" "$WORK/sync1.log"
expect_contains "$(keytool --registry "$(host_dir 1)" status)" "etcd revision: $head" "keytool status"
pass "a restart resumes at etcd's revision $head; keytool status shows it"

etcdctl --endpoints "$ETCD" compact "$head" >/dev/null
sleep 12  # longer than a watch session (10 s): the next one starts after the compaction
expect_eq "$(value keyauth_sync_rebuilds_total)" 0 "rebuilds after the compaction"
grep -q 'compacted past' "$WORK/sync1.log" && fail "the watch was compacted away: $(grep 'compacted past' "$WORK/sync1.log")"
pass "compacted at etcd's head: no rebuild"

admin del bob >/dev/null
wait_on_host 1 refused bob_token 5
wait_on_host 1 valid alice_token
host_digest_equal 1 || fail "host 1 differs from etcd"
pass "a del afterwards applied at once; equal to etcd by digest"

# A change of the fleet's among the writes elsewhere is never skipped.
etcdctl --endpoints "$ETCD" put /elsewhere/key4 value4 >/dev/null
admin del alice >/dev/null
etcdctl --endpoints "$ETCD" put /elsewhere/key5 value5 >/dev/null
wait_on_host 1 refused alice_token 5
wait_until 20 "host 1 at etcd's revision" value_is keyauth_sync_applied_revision "$(etcd_revision)"
host_digest_equal 1 || fail "host 1 differs from etcd"
pass "a del between writes elsewhere applied; the host follows etcd's revision after it"
