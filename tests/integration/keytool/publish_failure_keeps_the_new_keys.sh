# A commit whose publication fails after LMDB committed (lookup.idx's msync:
# an I/O error) stands: gen --force keeps the new files it saved, says the
# change is committed (exit 1), and the next keytool command as root
# publishes it: then the new token verifies and the old one is refused. It
# used to put the old files back, leaving the new keys nowhere. An LD_PRELOAD
# shim fails msync.
source "$TESTLIB"
keytool init >/dev/null
keytool gen alice >/dev/null
cp alice_token old_token

shim=$(failing_msync_shim)
touch "$WORK/fail-msync"
status=0
LD_PRELOAD="$shim" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    "$KEYTOOL" gen alice --force >out 2>err || status=$?
expect_eq "$status" 1 "gen --force's exit status when publishing fails"
expect_contains "$(cat err)" "the change is committed, but the servers still answer as before it" \
    "what gen says"
expect_contains "$(cat out)" "Save token ./alice_token" "gen still names the files it saved"
[ -s alice_token ] || fail "alice_token is gone"
if cmp -s alice_token old_token; then fail "alice_token was put back to the old token"; fi
pass "a commit not published keeps the new files and says the change is committed"

rm "$WORK/fail-msync"
keytool list >/dev/null
out=$(keytool verify - <alice_token) || fail "the new token after the next command: $out"
expect_contains "$out" "valid: client alice" "the new token after the next command"
if out=$(keytool verify - <old_token 2>&1); then fail "the old token still verifies: $out"; fi
pass "the next keytool command publishes it: the new token verifies, the old one is refused"
