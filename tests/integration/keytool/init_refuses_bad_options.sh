# init refuses bad hosts, groups and days without creating anything.
source "$TESTLIB"

check() {  # check EXPECTED_MESSAGE ARGS...
    local expected=$1
    shift
    if keytool init "$@" 2>err; then fail "init $* accepted"; fi
    expect_contains "$(cat err)" "$expected" "init $*"
    [ ! -e "$KEYAUTH_REGISTRY" ] || fail "init $* created the registry"
}
check "no group named no-such-group" --group no-such-group
check "is neither an IP address nor a DNS name" --host "bad host"
check "is neither an IP address nor a DNS name" --host "a,DNS:evil"
check "--days" --days 0
check "unknown option --bogus" --bogus
pass "init refuses bad options"
