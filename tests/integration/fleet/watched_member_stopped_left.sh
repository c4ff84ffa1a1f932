# An etcd member stopped (SIGSTOP) or hung keeps its connections open: the
# kernel accepts them, nothing answers. With the member keyauth-sync watches
# stopped so, a session that ends without a word from it (not even the
# "created" line etcd sends at once) is a failure, and the watch moves to the
# next member. Before, it passed for a quiet session: only a count of the keys
# under /keyauth/ (asked at most every 160 s) moved the client on, and a del
# waited up to that long on the host.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
port=$(free_port)
start_host 1 --metrics "127.0.0.1:$port"
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name {print $2}'; }
admin_gen alice
wait_on_host 1 valid ./alice_token 10

# A write elsewhere in etcd puts its revision ahead of the host's after a
# session: the keys under /keyauth/ are counted, found unchanged, and the
# next count is 160 s away.
counts=$(metric keyauth_sync_fleet_key_counts_total)
etcdctl --endpoints "$ETCD" put /elsewhere/key value >/dev/null || fail "etcdctl put"
counted() { [ "$(metric keyauth_sync_fleet_key_counts_total)" -gt "$counts" ]; }
wait_until 40 "a count of the keys under /keyauth/" counted

# Member 1, the first of --etcd, is the one watched.
reconnects=$(metric keyauth_sync_watch_reconnects_total)
at_exit "kill -CONT ${ETCD_PID[1]} 2>/dev/null"
kill -STOP "${ETCD_PID[1]}"
member2="http://127.0.0.1:${CLIENT_PORT[2]}"
# Members 2 and 3 keep a quorum (a new leader within a few seconds if 1 led).
wait_until 30 "a write through member 2" etcdctl --endpoints "$member2" put /elsewhere/probe x
start=$(now_millis)
keytool --registry "$ADMIN" --etcd "$member2" del alice >/dev/null || fail "keytool del through member 2"
# Three sessions of 10 s: the one under way, one in silence, the next member's.
wait_on_host 1 refused ./alice_token 30
took=$(($(now_millis) - start))
[ "$(metric keyauth_sync_watch_reconnects_total)" -gt "$reconnects" ] ||
    fail "the silent member was left without a reconnect counted"
pass "alice's del reached host 1 in $took ms with the watched member stopped; a reconnect counted"
