# An initialized registry with no clients lists an empty table and [].
source "$TESTLIB"

keytool init >/dev/null
expect_eq "$(keytool list | wc -l)" "4" "empty table has header and rules only"
expect_eq "$(keytool list --json)" "[]" "empty json"
pass "empty registry lists nothing"
