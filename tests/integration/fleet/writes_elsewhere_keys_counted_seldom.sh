# With writes elsewhere in etcd (the hosts' last use, other programs), etcd
# is ahead of the host after nearly every watch session. Each such session
# was followed by a count of the keys under /keyauth/, a walk of etcd's
# index of them all (150 ms of etcd's CPU at a million clients): every
# 10 s on every host. Now a count that finds them what the host serves is
# not asked again for 160 s; a change of the fleet's meanwhile is applied
# at once, as ever (the watch brings it).
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
admin_gen alice bob
port=$(free_port)
# Sessions of 200 ms: forty of them in the writes below.
export KEYAUTH_FOLLOW_SESSION_MS=200
start_host 1 --metrics "127.0.0.1:$port"
unset KEYAUTH_FOLLOW_SESSION_MS
value() { curl -s "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name {print $2}'; }
value_is() { [ "$(value "$1")" == "$2" ]; }
wait_until 20 "host 1 at etcd's revision" value_is keyauth_sync_applied_revision "$(etcd_revision)"

counts_before=$(value keyauth_sync_fleet_key_counts_total)
for i in $(seq 1 20); do
    etcdctl --endpoints "$ETCD" put "/elsewhere/key$i" "value$i" >/dev/null
    [ "$i" == 10 ] && admin del bob >/dev/null
    sleep 0.4
done
wait_on_host 1 refused bob_token 5
wait_on_host 1 valid alice_token
counts=$(($(value keyauth_sync_fleet_key_counts_total) - counts_before))
[ "$counts" -ge 1 ] || fail "the keys under /keyauth/ were never counted while etcd was ahead"
[ "$counts" -le 2 ] || fail "the keys under /keyauth/ counted $counts times in 8 s of writes elsewhere"
pass "8 s of writes elsewhere: the keys under /keyauth/ counted $counts time(s), a del applied at once"
