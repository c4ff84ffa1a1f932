# Review 3, L-1: while another writer holds writer.lock (a root keytool
# stopped by Ctrl-Z), the owner's keytool list waits 0.1 s at most for the lock
# to publish what LMDB holds, then lists what the servers enforce, as a
# member of the group does, and says so in one line on stderr: it once
# failed ("registry is busy"). With the lock free again it lists as before,
# silently.
source "$TESTLIB"
keytool init >/dev/null
keytool gen c0 >/dev/null 2>&1
keytool gen c1 >/dev/null 2>&1

hold_writer_lock "$KEYAUTH_REGISTRY" 30
rc=0
"$KEYTOOL" list >"$WORK/list.out" 2>"$WORK/list.err" || rc=$?
expect_eq "$rc" 0 "keytool list beside a busy writer.lock: $(cat "$WORK/list.err")"
expect_contains "$(cat "$WORK/list.out")" " c0 " "the listing beside a busy writer.lock"
expect_contains "$(cat "$WORK/list.out")" " c1 " "the listing beside a busy writer.lock"
expect_eq "$(wc -l <"$WORK/list.err")" 1 "lines on stderr: $(cat "$WORK/list.err")"
expect_contains "$(cat "$WORK/list.err")" "another writer holds $KEYAUTH_REGISTRY/writer.lock" "stderr"
rc=0
"$KEYTOOL" list --json >"$WORK/list.json" 2>/dev/null || rc=$?
expect_eq "$rc" 0 "keytool list --json beside a busy writer.lock"
expect_contains "$(cat "$WORK/list.json")" '"id":"c1"' "the JSON listing beside a busy writer.lock"
kill "$WRITER_LOCK_HOLDER"
wait "$WRITER_LOCK_HOLDER" 2>/dev/null || true

expect_eq "$("$KEYTOOL" list 2>&1 >/dev/null)" "" "stderr with writer.lock free"
pass "the owner's list beside a busy writer.lock lists what the servers enforce"
