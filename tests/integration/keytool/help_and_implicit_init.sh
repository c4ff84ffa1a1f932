# --help for every command; the first gen creates the CA and says so.
source "$TESTLIB"

expect_contains "$(keytool --help)" "usage: keytool" "overview"
for c in init gen list del server-cert verify; do
    expect_contains "$(keytool "$c" --help)" "usage: keytool [--registry DIR] $c" "$c --help"
done
if keytool frobnicate 2>err; then fail "unknown command accepted"; fi
expect_contains "$(cat err)" "unknown command frobnicate" "unknown command"
if keytool gen 2>err; then fail "gen without id accepted"; fi
expect_contains "$(cat err)" "gen takes exactly one client id" "gen without id"

keytool gen first >/dev/null 2>err
expect_eq "$(cat err)" "keytool: created registry $KEYAUTH_REGISTRY with a new CA and a server certificate for localhost, 127.0.0.1, ::1" "implicit init note"
keytool gen second >/dev/null 2>err
expect_eq "$(cat err)" "" "no note once the CA exists"

# --registry beats the environment.
keytool --registry "$WORK/other" gen third >/dev/null 2>&1
[ -f "$WORK/other/ca_cert.pem" ] || fail "--registry ignored"
expect_eq "$(keytool list --json | grep -c '"id"')" "2" "env registry untouched"
pass "help, unknown commands, implicit init"
