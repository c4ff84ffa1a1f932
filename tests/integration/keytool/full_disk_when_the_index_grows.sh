# The 871st client needs a bigger lookup.idx. On a full disk (a server user
# that may write elsewhere on the registry's filesystem can fill it), gen must
# fail cleanly before anything changes: no crash (a write into a sparse file's
# hole on a full disk is SIGBUS), nothing published, every client still served.
source "$TESTLIB"

mkdir disk
if ! mount -t tmpfs -o size=6m tmpfs disk 2>/dev/null; then
    echo "skip: cannot mount a tmpfs here" >&2
    exit 77
fi
at_exit "umount '$WORK/disk'"
export KEYAUTH_REGISTRY="$WORK/disk/registry"
keytool init >/dev/null
mkdir out
keytool gen first --output out/first >/dev/null
# More, two keytools at a time, until the index (1024 slots) is 85 % full.
capacity=$(index_capacity "$KEYAUTH_REGISTRY")
expect_eq "$capacity" 870 "the first index's capacity"
for i in $(seq 2 "$capacity"); do echo "c$i"; done | xargs -P 2 -I{} "$KEYTOOL" gen {} --output out/{} >/dev/null
expect_eq "$(keytool list --json | grep -o '"id"' | wc -l)" "$capacity" "clients before"
size_before=$(stat -c %s "$KEYAUTH_REGISTRY/lookup.idx")
counter_of() { od -An -tu8 -j8 -N8 "$KEYAUTH_REGISTRY/commit.seq" | tr -d ' '; }
counter_before=$(counter_of)

dd if=/dev/zero of=disk/filler bs=4k 2>/dev/null || true   # fill to the last block
set +e
"$KEYTOOL" gen growing --output out/growing 2>err
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "gen succeeded on a full disk"
[ "$rc" -lt 128 ] || fail "keytool died of signal $((rc - 128)): $(cat err)"
expect_contains "$(cat err)" "No space left on device" "error names the cause"
expect_eq "$(counter_of)" "$counter_before" "nothing published"
expect_eq "$(stat -c %s "$KEYAUTH_REGISTRY/lookup.idx")" "$size_before" "index unchanged"
keytool verify - <out/first_token | grep -q "valid: client first" || fail "first client lost"
keytool verify - <out/c870_token | grep -q "valid: client c870" || fail "last client lost"

rm disk/filler
keytool gen growing --output out/growing >/dev/null || fail "gen after freeing space"
[ "$(stat -c %s "$KEYAUTH_REGISTRY/lookup.idx")" -gt "$size_before" ] || fail "index did not grow"
keytool verify - <out/growing_token | grep -q "valid: client growing" || fail "new client"
keytool verify - <out/first_token | grep -q "valid: client first" || fail "first client after growth"
pass "full disk at index growth: a clean refusal, nothing changed, then growth once there is room"
