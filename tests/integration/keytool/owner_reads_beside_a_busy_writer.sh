# While another writer holds writer.lock (a long gen or del, keyauth-sync's
# exchange, a keytool stopped by Ctrl-Z), the owner's (root's) keytool show
# and verify read at once what the servers enforce, as keytool list does, and
# say so in one line on stderr: they once waited 5 s for the lock, then
# failed "registry is busy". Writers still wait their 5 s and fail.
source "$TESTLIB"
keytool init >/dev/null
keytool gen c0 >/dev/null 2>&1
token=$(cat c0_token)

# ms_since START: milliseconds from START (date +%s%N) to now.
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

hold_writer_lock "$KEYAUTH_REGISTRY" 60
notice="another writer holds $KEYAUTH_REGISTRY/writer.lock"

start=$(date +%s%N)
rc=0
"$KEYTOOL" show c0 >"$WORK/show.out" 2>"$WORK/show.err" || rc=$?
elapsed_ms=$(ms_since "$start")
expect_eq "$rc" 0 "keytool show beside a busy writer.lock: $(cat "$WORK/show.err")"
[ "$elapsed_ms" -lt 2000 ] || fail "keytool show waited ${elapsed_ms} ms for writer.lock"
expect_contains "$(head -1 "$WORK/show.out")" "ID                  c0" "keytool show"
expect_contains "$(cat "$WORK/show.out")" "STATE               active" "keytool show"
expect_eq "$(wc -l <"$WORK/show.err")" 1 "lines on stderr: $(cat "$WORK/show.err")"
expect_contains "$(cat "$WORK/show.err")" "$notice" "keytool show's stderr"
pass "keytool show beside a busy writer.lock answers in ${elapsed_ms} ms"

start=$(date +%s%N)
rc=0
"$KEYTOOL" verify "$token" >"$WORK/verify.out" 2>"$WORK/verify.err" || rc=$?
elapsed_ms=$(ms_since "$start")
expect_eq "$rc" 0 "keytool verify beside a busy writer.lock: $(cat "$WORK/verify.err")"
[ "$elapsed_ms" -lt 2000 ] || fail "keytool verify waited ${elapsed_ms} ms for writer.lock"
expect_contains "$(cat "$WORK/verify.out")" "valid: client c0 until " "keytool verify"
expect_eq "$(wc -l <"$WORK/verify.err")" 1 "lines on stderr: $(cat "$WORK/verify.err")"
expect_contains "$(cat "$WORK/verify.err")" "$notice" "keytool verify's stderr"
pass "keytool verify beside a busy writer.lock answers in ${elapsed_ms} ms"

start=$(date +%s%N)
"$KEYTOOL" list >/dev/null 2>&1 || fail "keytool list beside a busy writer.lock"
elapsed_ms=$(ms_since "$start")
[ "$elapsed_ms" -lt 2000 ] || fail "keytool list waited ${elapsed_ms} ms for writer.lock"

# A writer still waits for the lock, and gives up saying so.
out=$("$KEYTOOL" suspend c0 2>&1) && fail "keytool suspend beside a busy writer.lock: $out"
expect_contains "$out" "registry is busy" "keytool suspend beside a busy writer.lock"
pass "a writer beside a busy writer.lock still waits, then says the registry is busy"

kill "$WRITER_LOCK_HOLDER"
wait "$WRITER_LOCK_HOLDER" 2>/dev/null || true
expect_eq "$("$KEYTOOL" show c0 2>&1 >/dev/null)" "" "show's stderr with writer.lock free"
expect_eq "$("$KEYTOOL" verify "$token" 2>&1 >/dev/null)" "" "verify's stderr with writer.lock free"
pass "the owner's show and verify beside a busy writer.lock read what the servers enforce"
