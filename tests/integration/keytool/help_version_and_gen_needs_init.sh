# --help for every command, --version, and gen refusing to make a registry.
source "$TESTLIB"

expect_contains "$(keytool --help)" "usage: keytool" "overview"
for c in init gen list del server-cert verify; do
    expect_contains "$(keytool "$c" --help)" "usage: keytool [--registry DIR] $c" "$c --help"
done
if keytool frobnicate 2>err; then fail "unknown command accepted"; fi
expect_contains "$(cat err)" "unknown command frobnicate" "unknown command"
if keytool gen 2>err; then fail "gen without id accepted"; fi
expect_contains "$(cat err)" "gen takes exactly one client id" "gen without id"

expect_eq "$(keytool --version)" "keytool (keyauth) $(sed -n 's/^project(keyauth VERSION \([0-9.]*\).*/\1/p' "$(dirname "$TESTLIB")/../../CMakeLists.txt")" "--version"

# Without a registry gen refuses, pointing at init, and creates nothing: a
# registry made on the fly would be root's alone, unreadable by the servers.
if keytool gen first 2>err; then fail "gen without a registry succeeded"; fi
expect_eq "$(cat err)" "keytool: registry $KEYAUTH_REGISTRY does not exist (run keytool init)" "gen without a registry"
[ ! -e "$KEYAUTH_REGISTRY" ] || fail "gen created a registry"
[ ! -e first_token ] || fail "gen without a registry wrote files"

keytool init >/dev/null
keytool gen first >/dev/null

# --registry beats the environment.
keytool --registry "$WORK/other" init >/dev/null
keytool --registry "$WORK/other" gen third >/dev/null
expect_eq "$(keytool list --json | grep -c '"id"')" "1" "env registry untouched"
expect_eq "$(keytool --registry "$WORK/other" list --json | grep -c '"id"')" "1" "--registry used"
pass "help, version, unknown commands, gen needs init"
