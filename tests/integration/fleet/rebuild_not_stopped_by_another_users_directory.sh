# Review 6: a registry root in a sticky directory anyone may write (/tmp:
# here $SHARED). Before keyauth-sync first starts, nobody makes DIR.sync.lock
# (the lock's name before) and holds it; while it runs, nobody makes
# DIR.rebuild (the name rebuilds used), a directory named like one of
# today's (DIR.rebuild.XXXXXX) with a file in it, and a link so named to a
# directory of root's. keyauth-sync starts, a rebuild (digest mismatch)
# still swaps in, a delete in etcd then reaches the host, a second
# keyauth-sync is still refused, and a restart starts: before, the start was
# refused ("lock ... is owned by nobody"), or the rebuild for good ("owned
# by nobody"), keyauth-sync exited 1, refused again at every start, and the
# host served its last state for ever. Nothing of nobody's is removed or
# followed; a leftover of root's own (a rebuild that died) is removed at
# start.
source "$FLEET_LIB"
make_shared_directory
host_dir() { echo "$SHARED/host$1"; }
registry=$(host_dir 1)
start_etcd_cluster
admin init >/dev/null
setpriv --reuid=nobody --regid=nogroup --clear-groups \
    flock --no-fork "$registry.sync.lock" sleep 120 &  # one process: $! is the holder
locker=$!
at_exit "kill $locker 2>/dev/null"
wait_until 5 "nobody's lock" test -e "$registry.sync.lock"
DIGEST_INTERVAL=1 start_host 1
admin_gen alice bob carol
wait_on_host 1 valid ./bob_token

mkdir "$WORK/roots"
touch "$WORK/roots/kept"
as_nobody mkdir "$registry.rebuild" "$registry.rebuild.nobody"
as_nobody touch "$registry.rebuild/kept" "$registry.rebuild.nobody/kept"
as_nobody ln -s "$WORK/roots" "$registry.rebuild.linked"
nobodys_left() {
    [ -e "$registry.rebuild/kept" ] && [ -e "$registry.rebuild.nobody/kept" ] &&
        [ -L "$registry.rebuild.linked" ] && [ -e "$WORK/roots/kept" ] ||
        fail "nobody's files (or root's behind nobody's link) removed: $(ls -la "$SHARED" "$WORK/roots")"
}
alive() {
    kill -0 "${SYNC_PID[1]}" 2>/dev/null || fail "keyauth-sync ended: $(tail -n 3 "$WORK/sync1.log")"
}

# A rebuild: the digest check finds bob deleted behind keyauth-sync's back.
keytool --registry "$registry" del bob --force >/dev/null
wait_until 10 "the digest check" grep -q "digest mismatch" "$WORK/sync1.log"
wait_on_host 1 valid ./bob_token 10
alive
admin del alice >/dev/null
wait_on_host 1 refused ./alice_token 10
alive
nobodys_left
out=$(timeout 10 "$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$registry" 2>&1) &&
    fail "a second keyauth-sync ran after the rebuild: $out"
expect_contains "$out" "another keyauth-sync (pid ${SYNC_PID[1]})" "a second keyauth-sync after the rebuild"
kill -0 "$locker" 2>/dev/null || fail "nobody's lock holder ended"
pass "with nobody's DIR.sync.lock, DIR.rebuild, DIR.rebuild.XXXXXX and link beside the registry: rebuilt, alice's delete in etcd reached host 1"

# Restarted, with a rebuild of root's that died half way: removed; nobody's
# named in the log and left.
stop_host 1
mkdir "$registry.rebuild.crashd"
touch "$registry.rebuild.crashd/data.mdb"
start_host 1
wait_until 10 "the leftover of root's removed" test ! -e "$registry.rebuild.crashd"
said=$(grep "left as they are" "$WORK/sync1.log") || fail "nobody's directories not said"
for name in rebuild rebuild.nobody rebuild.linked; do
    expect_contains "$said" "$registry.$name (nobody (uid $(id -u nobody))'s)" "the line saying nobody's"
done
admin del carol >/dev/null
wait_on_host 1 refused ./carol_token 10
alive
nobodys_left
pass "restarted beside nobody's directories: root's dead rebuild removed, carol's delete reached host 1"
