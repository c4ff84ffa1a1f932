# etcd written faster than a host commits one change at a time (400 changes
# a second, each its own revision, as 400 keytool commands would make): the
# host applies what etcd sent meanwhile in one commit, so a del is refused by
# its nginx within LAG_LIMIT_MS however long the load lasts (and
# keyauth_sync_watch_commits_total says in how many commits). Committing each
# watch response on its own fell further behind with every write (a del still
# admitted 10 s after it returned, 2026-12-05).
source "$FLEET_LIB"
RATE=${RATE:-400}
LAG_LIMIT_MS=${LAG_LIMIT_MS:-1000}
DELS=${DELS:-10}
start_etcd_cluster
admin init >/dev/null
admin_gen_bulk d "$DELS"
port=$(free_port)
start_host 1 --metrics "127.0.0.1:$port"
start_nginx 1
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name {print $2}'; }
changes_before=$(metric keyauth_sync_changes_applied_total)
commits_before=$(metric keyauth_sync_watch_commits_total)

python3 "$(dirname "$FLEET_LIB")/../../bench/fleet_records.py" "${ETCD%%,*}" 0 load \
    --rate "$RATE" --until "$WORK/stop" >"$WORK/load.out" 2>&1 &
load=$!
at_exit "touch $WORK/stop; kill $load 2>/dev/null"
sleep 3  # a backlog builds up in 3 s if the host cannot keep up

worst=0
for n in $(seq 0 $((DELS - 1))); do
    id=$(printf 'd%04d' "$n")
    admin del "$id" >/dev/null || fail "del $id"
    at=$(now_millis)
    while [ "$(http_status 1 "$WORK/tokens/${id}_token")" == 200 ]; do
        lag=$(($(now_millis) - at))
        [ "$lag" -le 10000 ] || fail "$id still admitted 10 s after its del, under $RATE changes/s"
        sleep 0.02
    done
    lag=$(($(now_millis) - at))
    [ "$lag" -le "$worst" ] || worst=$lag
    sleep 0.3
done
touch "$WORK/stop"
wait "$load" || fail "the write load failed: $(cat "$WORK/load.out")"
pass "$(cat "$WORK/load.out")"
[ "$worst" -le "$LAG_LIMIT_MS" ] ||
    fail "a deleted client was admitted until ${worst} ms after its del (limit $LAG_LIMIT_MS ms)"
pass "$DELS dels under the load, each refused by nginx within $worst ms of returning"

# Both read at each try (as arguments to wait_until they were read once: a
# host one commit behind at the call failed after 20 s, caught up long before).
at_etcds_revision() { [ "$(metric keyauth_sync_applied_revision)" == "$(etcd_revision)" ]; }
wait_until 20 "host 1 at etcd's revision" at_etcds_revision
changes=$(($(metric keyauth_sync_changes_applied_total) - changes_before))
commits=$(($(metric keyauth_sync_watch_commits_total) - commits_before))
# How many a commit joins depends on how fast this machine commits: reported.
[ "$commits" -gt 0 ] && [ "$commits" -le "$changes" ] ||
    fail "$changes changes in $commits commits"
pass "$changes changes applied in $commits commits"
