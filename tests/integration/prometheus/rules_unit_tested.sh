# conf-examples/prometheus/ as shipped: promtool accepts the scrape
# configuration and the alert rules, and the rules' unit tests pass (each
# alert fires on what it is about, and only then).
source "$TESTLIB"
command -v promtool >/dev/null || { echo "skip: prometheus (promtool) is not installed"; exit 77; }
: "${PROMETHEUS_EXAMPLES:?PROMETHEUS_EXAMPLES must name conf-examples/prometheus}"

cp "$PROMETHEUS_EXAMPLES"/* .
out=$(promtool check config prometheus.yml 2>&1) || fail "promtool check config: $out"
expect_contains "$out" "SUCCESS: 1 rule files found" "promtool check config"
out=$(promtool check rules keyauth.rules.yml 2>&1) || fail "promtool check rules: $out"
pass "promtool check config prometheus.yml, check rules keyauth.rules.yml"

out=$(promtool test rules keyauth.rules.test.yml 2>&1) || fail "promtool test rules: $out"
expect_contains "$out" "SUCCESS" "promtool test rules"
pass "promtool test rules keyauth.rules.test.yml"

# The unit tests can fail: a refusal spike rule that needs 100 refusals a
# second misses the spike of 10 the tests feed it.
sed -i 's/verdict!="accepted"}\[5m\])) > 1$/verdict!="accepted"}[5m])) > 100/' keyauth.rules.yml
grep -q '> 100$' keyauth.rules.yml || fail "the refusal spike threshold was not found to change"
out=$(promtool test rules keyauth.rules.test.yml 2>&1) && fail "a broken rule passed its tests: $out"
expect_contains "$out" "alertname: KeyauthRefusalSpike" "what failed"
pass "a rule broken on purpose fails its unit test"
