# A root `keytool list` whose output nobody reads (a pager left open) holds
# nothing: keyauth-sync writes a del on that host meanwhile, at once, never
# "busy" (it held writer.lock until issue 19: the del waited for the pager).
# A process that does hold writer.lock (a root keytool stopped by Ctrl-Z
# inside a command): keyauth-sync keeps the del it cannot write, says so
# once, does not claim to be current, stays alive, and applies it within
# seconds of the lock being let go (it used to exit on the next change, and
# revocations stopped reaching the host; review M2).
source "$FLEET_LIB"
MEMBERS=(1)
start_etcd_cluster
admin init >/dev/null
admin_gen alice bob carol
admin_gen_bulk c 3000  # a table of several pipes' worth
start_host 1
wait_on_host 1 valid ./carol_token 20
# As the servers read it (lookup.idx): root's keytool verify waits on the lock.
group_verify() {
    setpriv --reuid=nobody --regid=mosquitto --clear-groups \
        "$KEYTOOL" --registry "$(host_dir 1)" verify - <"$1" >/dev/null 2>&1
}

mkfifo "$WORK/pager"
( exec 3<>"$WORK/pager"; exec "$KEYTOOL" --registry "$(host_dir 1)" list >&3 ) &
LIST=$!
at_exit "kill -KILL $LIST 2>/dev/null || true"
sleep 2
kill -0 "$LIST" 2>/dev/null || fail "keytool list ended: its output was meant to block it"
admin del carol >/dev/null
deleted=$(now_millis)
wait_until 8 "carol refused on host 1 while a root keytool list waits on its pager" \
    eval '! group_verify ./carol_token'
kill -0 "$LIST" 2>/dev/null || fail "keytool list ended before the del reached host 1"
! grep -q "registry is busy" "$WORK/sync1.log" || fail "keyauth-sync found writer.lock busy: $(grep -m1 'registry is busy' "$WORK/sync1.log")"
pass "carol refused on host 1 $(( $(now_millis) - deleted )) ms after her del, a root keytool list waiting on its pager"
kill -KILL "$LIST"
wait "$LIST" 2>/dev/null || true

# Another process holds writer.lock (as a keytool stopped inside a command would).
hold_writer_lock "$(host_dir 1)" 600
admin del bob >/dev/null
deleted_at=$(date +%s)
sleep 1
kill -USR1 "${SYNC_PID[1]}"  # a rebuild asked for meanwhile waits too
# Three of keyauth-sync's 5 s waits for the lock.
sleep 16
kill -0 "${SYNC_PID[1]}" 2>/dev/null || fail "keyauth-sync died while another process held writer.lock: $(tail -n 5 "$WORK/sync1.log")"
busy=$(grep -c "registry is busy" "$WORK/sync1.log")
expect_eq "$busy" 1 "lines saying writer.lock is held (once, not every retry)"
# No contact recorded since the del waits: never current. Its last contact
# came before the del; a host that goes on recording is at most ~12 s old.
out=$(setpriv --reuid=nobody --regid=mosquitto --clear-groups \
    "$KEYTOOL" --registry "$(host_dir 1)" status --stale-after $(( $(date +%s) - deleted_at - 1 ))) &&
    fail "keytool status said current while the del waited: $out"
expect_contains "$out" "state:         STALE" "keytool status while the del waits"
pass "keyauth-sync alive, the busy lock said once, status STALE: $(grep -m1 -o 'registry is busy.*' "$WORK/sync1.log" | cut -c1-160)"

kill -KILL "$WRITER_LOCK_HOLDER"
wait "$WRITER_LOCK_HOLDER" 2>/dev/null || true
released=$(now_millis)
wait_until 8 "bob refused on host 1 once the lock is let go" eval '! group_verify ./bob_token'
group_verify ./alice_token || fail "alice refused on host 1"
kill -0 "${SYNC_PID[1]}" 2>/dev/null || fail "keyauth-sync died"
grep -q "writer.lock free again" "$WORK/sync1.log" || fail "keyauth-sync did not say it got through"
pass "bob refused $(( $(now_millis) - released )) ms after the holder was killed; $(grep -m1 -o 'writer.lock free again.*' "$WORK/sync1.log")"
wait_until 15 "keytool status current again" keytool --registry "$(host_dir 1)" status
wait_until 15 "the rebuild asked for while busy done" grep -q "rebuilt the registry with" "$WORK/sync1.log"
kill -0 "${SYNC_PID[1]}" 2>/dev/null || fail "keyauth-sync died after the rebuild"
pass "the rebuild asked for while the lock was held done once it was let go"
