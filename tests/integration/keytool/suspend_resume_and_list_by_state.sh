# keytool suspend / resume: said once, idempotent, refused for an unknown id;
# list --state keeps the clients in that state now; verify names the state.
source "$TESTLIB"

keytool init >/dev/null
for id in alpha beta gamma; do keytool gen "$id" >/dev/null; done
ids_in() { keytool list --state "$1" --json | python3 -c 'import json, sys; print(" ".join(c["id"] for c in json.load(sys.stdin)))'; }

expect_eq "$(keytool suspend beta)" "suspended" "suspend"
expect_eq "$(keytool suspend beta)" "already suspended" "suspend again"
expect_eq "$(ids_in suspended)" "beta" "list --state suspended"
expect_eq "$(ids_in active)" "alpha gamma" "list --state active"
expect_eq "$(keytool verify - <beta_token; echo "exit $?")" \
    "$(printf 'invalid: suspended (client beta)\nexit 1')" "verify a suspended client's token"
pass "suspend: once, idempotent, listed by state, refused by verify"

expect_eq "$(keytool resume beta)" "resumed" "resume"
expect_eq "$(keytool resume beta)" "not suspended: nothing to resume" "resume again"
expect_eq "$(ids_in suspended)" "" "list --state suspended after resume"
keytool verify - <beta_token >/dev/null || fail "beta's token after resume"
pass "resume: the same token valid again"

out=$(keytool suspend nobody 2>&1) && fail "suspend of an unknown client succeeded"
expect_eq "$out" "keytool: no client nobody" "suspend nobody"
out=$(keytool list --state paused 2>&1) && fail "list --state paused succeeded"
expect_contains "$out" "--state must be active, suspended, expired" "list --state paused"
out=$(keytool rotate nobody 2>&1) && fail "rotate of an unknown client succeeded"
expect_eq "$out" "keytool: no client nobody" "rotate nobody"
out=$(keytool rotate alpha --grace 367d 2>&1) && fail "a grace over 366 days was accepted"
expect_contains "$out" "grace must be between 0 and 366 days" "rotate --grace 367d"
keytool verify - <alpha_token >/dev/null || fail "a refused rotate changed alpha"
pass "unknown clients, states and graces refused with clear words, nothing changed"
