# `keytool --etcd gen` whose registration gets no answer (a quorum lost
# after etcd took the write: the leader holds it, uncommitted). The outcome
# is unknown, and the write may still commit later: keytool settles it with
# etcd before it answers, and when etcd cannot say, it says so and keeps the
# files. Never a registered client whose token nobody holds.
source "$FLEET_LIB"
# A leader that stays leader through the test's few seconds without quorum.
ETCD_FLAGS=(--heartbeat-interval 500 --election-timeout 20000)
start_etcd_cluster
admin init >/dev/null
start_host 1
leader=$(etcd_leader) || fail "no leader"
followers=()
for m in "${MEMBERS[@]}"; do [ "$m" == "$leader" ] || followers+=("${ETCD_PID[$m]}"); done
leader_only() {
    KEYAUTH_ETCD_TIMEOUT_MS=$1 keytool --registry "$ADMIN" \
        --etcd "http://127.0.0.1:${CLIENT_PORT[$leader]}" "${@:2}"
}

kill -STOP "${followers[@]}"
at_exit "kill -CONT ${followers[*]} 2>/dev/null"
leader_only 3000 gen early --output ./early >"$WORK/early.out" 2>&1 &
gen_pid=$!
sleep 4.5  # its registration timed out (3 s); keytool is settling it
kill -CONT "${followers[@]}"
wait "$gen_pid" || fail "gen early, quorum back while settling: $(cat "$WORK/early.out")"
[ -s ./early_token ] || fail "gen early said saved but left no token"
wait_on_host 1 valid ./early_token
pass "registration timed out, quorum back while settling: gen reports success, token valid on host 1"

kill -STOP "${followers[@]}"
out=$(leader_only 2000 gen late --output ./late 2>&1) && fail "gen late succeeded without a quorum"
expect_contains "$out" "OUTCOME UNKNOWN" "gen late without a quorum"
expect_contains "$out" "no etcd quorum" "gen late names the cause"
[ -s ./late_token ] || fail "gen late removed the files of a client etcd may still register"
kill -CONT "${followers[@]}"
wait_until 10 "late decided in etcd" etcdctl --endpoints "$ETCD" get /keyauth/clients/late
if etcd_ids | grep -qx late; then
    wait_on_host 1 valid ./late_token
    pass "outcome unknown, said so, files kept; late was registered after all: its kept token valid"
else
    pass "outcome unknown, said so, files kept; late was not registered (the files may go)"
fi
host_digest_equal 1 >/dev/null || fail "host 1 differs from etcd"
