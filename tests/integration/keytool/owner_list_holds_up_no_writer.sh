# keytool list run by the registry's owner walks lookup.idx as a member of
# its group does (issue 19), holding neither writer.lock nor an LMDB
# transaction while its output waits to be read (`keytool list | less` left
# open): a `keytool gen` meanwhile completes at once, where it waited 5 s
# for the lock and gave up ("registry is busy"). The listing shows the state
# it began with, the next one the change. One of more than a walk's range
# (64 Ki clients) that a commit meets once its output has begun fails, says
# so, its output unfinished. And the owner's listing is never older than
# LMDB: what a writer killed between its commit and its publication
# committed, the opening publishes, as for `keytool show`; a member lists
# what the servers enforce until then.
source "$TESTLIB"
: "${FILL_REGISTRY:?FILL_REGISTRY must name keyauth_fill_registry}"
keytool init --group www-data >/dev/null
keytool gen c0 >/dev/null 2>&1

member_list() { setpriv --reuid=www-data --regid=www-data --clear-groups "$KEYTOOL" list "$@"; }

# A writer killed between LMDB's commit and the publication.
KEYAUTH_TEST_STOP_AT=lmdb-committed "$KEYTOOL" gen killed >/dev/null 2>&1 &
writer=$!
at_exit "kill -KILL $writer 2>/dev/null"
for _ in $(seq 1 1000); do
    [ "$(awk '{ print $3 }' "/proc/$writer/stat" 2>/dev/null)" != T ] || break
    sleep 0.01
done
expect_eq "$(awk '{ print $3 }' "/proc/$writer/stat")" T "gen stopped after LMDB's commit"
kill -KILL "$writer"
{ wait "$writer"; } 2>/dev/null || true  # no "Killed" notice
expect_not_contains "$(member_list)" " killed " "a member's list before any owner's: the servers' state"
expect_contains "$(keytool list)" " killed " "the owner's list: what LMDB committed"
expect_contains "$(member_list)" " killed " "a member's list once the owner's published it"
pass "the owner lists what a writer killed before its publication committed"

# stalled_list ARGS...: keytool list ARGS writing into a pipe read only as
# far as its first line; its pid in LISTING, that line in FIRST, the pipe on
# fd 3 (the listing is several pipes long: it cannot end before it is read).
stalled_list() {
    rm -f "$WORK/listing"
    mkfifo "$WORK/listing"
    "$KEYTOOL" list "$@" >"$WORK/listing" 2>"$WORK/list.err" &
    LISTING=$!
    at_exit "kill -KILL $LISTING 2>/dev/null"
    exec 3<"$WORK/listing"
    IFS= read -r -u 3 FIRST || fail "list $*: no output"
}

# gen_while_stalled ID: keytool gen ID succeeds while the listing waits.
gen_while_stalled() {
    local started=$EPOCHREALTIME out
    out=$("$KEYTOOL" gen "$1" 2>&1) || fail "gen $1 while an owner's list waited on its pipe: $out"
    kill -0 "$LISTING" 2>/dev/null || fail "the listing ended before gen $1 ran"
    echo "gen $1 took $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }') s"
}

"$FILL_REGISTRY" "$KEYAUTH_REGISTRY" c0 c 3000 >/dev/null || fail "fill 3 000"
for form in table json; do
    args=()
    [ "$form" == table ] || args=(--json)
    before=$(keytool list "${args[@]}")
    stalled_list "${args[@]}"
    gen_while_stalled "late-$form"
    listed="$FIRST"$'\n'"$(cat <&3)"
    exec 3<&-
    wait "$LISTING" || fail "list $form, after gen: $(cat "$WORK/list.err")"
    [ "$listed" == "$before" ] || fail "list $form: not the state it began with"
    expect_contains "$(keytool list "${args[@]}")" "late-$form" "the next list $form: the change"
done
pass "keytool gen completes while an owner's list (table, --json) waits on its pipe"

# More than a range: the rows printed cannot be taken back.
"$FILL_REGISTRY" "$KEYAUTH_REGISTRY" c0 c 70000 >/dev/null || fail "fill 70 000"
stalled_list --json
gen_while_stalled late-in-ranges
rest=$(cat <&3)
exec 3<&-
status=0
wait "$LISTING" || status=$?
[ "$status" -ne 0 ] || fail "a listing a commit met after its output began succeeded"
expect_contains "$(cat "$WORK/list.err")" "the registry changed while it was listed: run list again" \
    "what the failed listing says"
[[ "$rest" != *"]" ]] || fail "the failed listing's output looks whole"
expect_contains "$(keytool list --json)" "late-in-ranges" "the next list"
pass "a listing of several ranges that a commit meets after its output began fails, unfinished"
