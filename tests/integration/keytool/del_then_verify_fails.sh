# keytool del: the token stops verifying at once; the id can be issued again.
source "$TESTLIB"
keytool init >/dev/null

keytool gen myapp01 >/dev/null 2>&1
out=$(keytool verify "$(cat myapp01_token)")
expect_contains "$out" "valid: client myapp01 until " "verify before del"
out=$(keytool verify - <myapp01_token)
expect_contains "$out" "valid: client myapp01" "verify from stdin"

expect_eq "$(keytool del myapp01)" "deleted" "del output"
if out=$(keytool verify - <myapp01_token); then fail "deleted token verified"; fi
expect_eq "$out" "invalid: unknown client (client myapp01)" "verify after del"
expect_eq "$(keytool list --json)" "[]" "list after del"

if keytool del myapp01 2>err; then fail "second del succeeded"; fi
expect_eq "$(cat err)" "keytool: no client myapp01" "del of an unknown id"

rm -f myapp01_*
keytool gen myapp01 >/dev/null 2>&1 || fail "re-issue after del"
pass "del revokes at once"
