# Review 4, L-2: a host took etcd's revision as its own when no key under
# /keyauth/ had been put after its own and etcd held as many keys there as
# its clients plus the fleet id and the CA certificate. A record it refuses
# (eve's, corrupt) stood in for a client deleted: with the watched member
# stopped, bob's del went by unseen, the host took the del's revision
# (keytool status, the contact file) while still admitting bob, and only
# the digest check after it found that, by a rebuild (none if the digest
# check failed). Now etcd's count of its keys at the host's own revision
# tells the delete: the revision stays, the watch brings the del once it
# has moved to the next member, no rebuild. And a refused record no longer
# keeps a host from following etcd's revision through writes elsewhere.
source "$FLEET_LIB"
start_fleet alice bob
port=$(free_port)
DIGEST_INTERVAL=1 start_host 1 --metrics "127.0.0.1:$port"
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name {print $2}'; }
metric_is() { [ "$(metric "$1")" == "$2" ]; }
status_revision() { keytool --registry "$(host_dir 1)" status | awk '/^etcd revision:/ {print $3}'; }
wait_on_host 1 valid ./bob_token 10

etcdctl --endpoints "$ETCD" put /keyauth/clients/eve garbage >/dev/null
wait_until 10 "eve refused on host 1" \
    grep -q "etcd record /keyauth/clients/eve refused: etcd record of eve is corrupt" "$WORK/sync1.log"

# Member 1, the first of --etcd, is the one watched: stopped, the watch
# waits out its session before it moves on, while the heartbeat and the
# digest checks (every second) go on through member 2.
at_exit "kill -CONT ${ETCD_PID[1]} 2>/dev/null"
kill -STOP "${ETCD_PID[1]}"
member2="http://127.0.0.1:${CLIENT_PORT[2]}"
wait_until 30 "a write through member 2" etcdctl --endpoints "$member2" put /elsewhere/probe x
sleep 4  # the heartbeat on member 2
keytool --registry "$ADMIN" --etcd "$member2" del bob >/dev/null || fail "keytool del bob through member 2"
del_revision=$(etcdctl --endpoints "$member2" endpoint status -w fields |
    awk -F' : ' '/"Revision"/ {print $2; exit}')
# Until bob is refused, the host must not say it is at the del's revision.
tries=2000  # 40 s: the watch's session under way, one in silence, the next member's
while group_verify 1 ./bob_token; do
    revision=$(status_revision)
    if [ "${revision:-0}" -ge "$del_revision" ] && group_verify 1 ./bob_token; then
        fail "host 1 at revision $revision, past bob's del ($del_revision), still admitting bob"
    fi
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || fail "bob (deleted at $del_revision) still admitted on host 1 after 40 s"
    sleep 0.02
done
grep -q "digest mismatch" "$WORK/sync1.log" &&
    fail "the del was found by the digest check: $(grep "digest mismatch" "$WORK/sync1.log")"
expect_eq "$(metric keyauth_sync_rebuilds_total)" 0 "rebuilds"
group_verify 1 ./alice_token || fail "alice refused on host 1"
pass "bob's del (revision $del_revision) behind eve's refused record: the host kept its revision until the watch brought it, no rebuild"

kill -CONT "${ETCD_PID[1]}"
wait_until 20 "etcd healthy again" etcdctl --endpoints "$ETCD" endpoint health
etcdctl --endpoints "$ETCD" put /elsewhere/key value >/dev/null
head=$(etcd_revision)
wait_until 20 "host 1 to take etcd's revision $head with eve refused" \
    metric_is keyauth_sync_applied_revision "$head"
expect_eq "$(status_revision)" "$head" "keytool status's revision"
host_digest_equal 1 >/dev/null || fail "host 1 differs from etcd"
expect_eq "$(metric keyauth_sync_rebuilds_total)" 0 "rebuilds"
pass "writes elsewhere with eve refused: the host takes etcd's revision $head (before: held back by the count)"
