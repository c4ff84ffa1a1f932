# A full disk makes gen fail with nothing registered and no partial files.
source "$TESTLIB"

mkdir disk
if ! mount -t tmpfs -o size=2m tmpfs disk 2>/dev/null; then
    echo "skip: cannot mount a tmpfs here" >&2
    exit 77
fi
at_exit "umount '$WORK/disk'"
export KEYAUTH_REGISTRY="$WORK/disk/registry"
keytool init >/dev/null
keytool gen before --output disk/before >/dev/null 2>&1
dd if=/dev/zero of=disk/filler bs=4k 2>/dev/null || true   # fill to the last block
before=$(keytool list --json)

if keytool gen after --output disk/after 2>err; then fail "gen succeeded on a full disk"; fi
expect_contains "$(cat err)" "No space left on device" "error names the cause"
expect_eq "$(wc -l <err)" "1" "one line"
ls disk/after* 2>/dev/null && fail "partial files left"
expect_eq "$(keytool list --json)" "$before" "registry unchanged"

rm disk/filler
keytool gen after --output disk/after >/dev/null 2>&1 || fail "gen after freeing space"
keytool verify - <disk/before_token >/dev/null || fail "earlier client lost"
pass "full disk: nothing registered, no partial files"
