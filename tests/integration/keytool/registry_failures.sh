# A missing, corrupt or unreadable registry gives one clear line and exit 1.
source "$TESTLIB"

one_line_failure() {  # one_line_failure EXPECTED_SUBSTRING COMMAND...
    local expected=$1
    shift
    if "$@" >out 2>err; then fail "$* succeeded"; fi
    expect_eq "$(wc -l <err)" "1" "one line from: $*"
    expect_contains "$(cat err)" "$expected" "$*"
}

one_line_failure "registry $WORK/none does not exist (run keytool init)" keytool --registry "$WORK/none" list
one_line_failure "registry $WORK/none does not exist (run keytool init)" keytool --registry "$WORK/none" del x
one_line_failure "registry $WORK/none does not exist (run keytool init)" keytool --registry "$WORK/none" gen x
one_line_failure "registry $WORK/none does not exist (run keytool init)" keytool --registry "$WORK/none" server-cert
mkdir "$WORK/empty"
one_line_failure "registry $WORK/empty has no data.mdb (run keytool init)" keytool --registry "$WORK/empty" list
one_line_failure "registry $WORK/empty has no data.mdb (run keytool init)" keytool --registry "$WORK/empty" del x
one_line_failure "registry $WORK/empty has no data.mdb (run keytool init)" keytool --registry "$WORK/empty" gen x
expect_eq "$(ls -A "$WORK/empty")" "" "del made a registry of an empty directory"
[ ! -e "$WORK/none" ] || fail "list/del/gen created a registry"
[ ! -e x_token ] || fail "gen without a registry wrote files"

keytool init >/dev/null
keytool gen good >/dev/null 2>&1
cp -a "$KEYAUTH_REGISTRY" "$WORK/corrupt"
head -c 65536 /dev/urandom >"$WORK/corrupt/data.mdb"
one_line_failure "registry $WORK/corrupt" keytool --registry "$WORK/corrupt" list
one_line_failure "registry $WORK/corrupt" keytool --registry "$WORK/corrupt" gen other
[ ! -e other_token ] || fail "gen wrote files for a corrupt registry"

cp -a "$KEYAUTH_REGISTRY" "$WORK/badca"
echo "garbage" >"$WORK/badca/ca_key.pem"
one_line_failure "is not a private key" keytool --registry "$WORK/badca" gen other
[ ! -e other_token ] || fail "gen wrote files with a broken CA"

# An unprivileged user: the registry is root's 0750.
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$KEYTOOL" "$@"; }
one_line_failure "Permission denied" as_nobody list
one_line_failure "Permission denied" as_nobody gen intruder --output /tmp/intruder-$$
[ ! -e /tmp/intruder-$$_token ] || fail "nobody got a token"
expect_eq "$(keytool list --json | grep -c '"id"')" "1" "registry unchanged"
pass "registry failures are one clear line"
