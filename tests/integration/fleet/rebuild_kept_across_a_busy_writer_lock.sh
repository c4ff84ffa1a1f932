# A rebuild whose exchange finds writer.lock busy (another writer holds it
# longer than the exchange waits, 30 s) keeps the registry it filled and
# tries the exchange alone again, with the changes etcd made meanwhile
# caught up: it reads etcd once, not again (a minute of reads at a million
# clients). Shown with every etcd member stopped before the lock is let go:
# only a rebuild that needs no second read can swap in then, and what the
# watcher recorded while the lock was held (a del, a gen) is served after.
# (Before: the fill was thrown away and read again, which etcd down refused.)
source "$FLEET_LIB"
# Pages of 10: the fill reads for seconds, while the lock is taken.
export KEYAUTH_ETCD_READ_PAGE=10
start_etcd_cluster
admin init >/dev/null
admin_gen_bulk b 5000
start_host 1
host_has_all() {
    [ "$(keytool --registry "$(host_dir 1)" status | awk '/^clients:/ {print $2}')" == 5001 ]
}
wait_until 60 "host 1's first load" host_has_all
admin_gen alice
wait_on_host 1 valid ./alice_token
in_log() { grep -c "$1" "$WORK/sync1.log" || true; }
rebuilt=$(in_log "rebuilt the registry")
swapped() { [ "$(in_log "rebuilt the registry")" -gt "$rebuilt" ]; }

# Another writer takes host 1's writer.lock once the rebuild fills its new
# registry (the rebuild counts the clients served under that lock before),
# and holds it until told to let go.
python3 - "$(host_dir 1)" <<'PY' &
import fcntl, glob, os, struct, sys, time
registry = sys.argv[1]
open(registry + ".watched", "w").close()
while not glob.glob(glob.escape(registry) + ".rebuild.??????"):
    time.sleep(0.005)
fd = os.open(registry + "/writer.lock", os.O_RDWR)
fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 1, 0))
open(registry + "/writer.lock.held", "w").close()
while not os.path.exists(registry + "/writer.lock.release"):
    time.sleep(0.05)
PY
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_until 5 "the lock's holder ready" test -e "$(host_dir 1).watched"
kill -USR1 "${SYNC_PID[1]}"
wait_until 10 "writer.lock held during the fill" test -e "$(host_dir 1)/writer.lock.held"
swapped && fail "the rebuild was over before the lock was taken (the fill too fast)"
# The filled registry's exchange gives up on the lock after its 30 s wait.
wait_until 60 "the exchange refused for the busy lock" grep -q "registry is busy" "$WORK/sync1.log"
# etcd changes while the lock is still held: recorded by the watcher, not
# applied to the registry served (busy).
admin del alice >/dev/null
admin_gen carol
sleep 2  # delivered to host 1's watch
for m in 1 2 3; do stop_member "$m"; done
touch "$(host_dir 1)/writer.lock.release"
wait "$holder" 2>/dev/null || true
wait_until 60 "the rebuilt registry swapped in with etcd down" swapped
expect_eq "$(in_log "rebuilt the registry")" "$((rebuilt + 1))" "rebuilds swapped in"
wait_until 10 "carol (gen while the lock was held) valid" group_verify 1 ./carol_token
wait_until 10 "alice (del while the lock was held) refused" group_refuses 1 ./alice_token
group_verify 1 "$WORK/tokens/b4999_token" || fail "b4999 refused after the swap"
expect_eq "$(keytool --registry "$(host_dir 1)" status | awk '/^clients:/ {print $2}')" 5002 \
    "clients after the swap (5000, the template and carol; alice deleted)"
pass "a rebuild kept across a busy writer.lock, swapped in with etcd down, with the del and gen made meanwhile: $(grep -m1 "kept for the exchange" "$WORK/sync1.log" | cut -c1-200)"
