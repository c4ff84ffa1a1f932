# An id counts as the broker's only with the broker's auto_id_prefix, told
# to the plugin by plugin_opt_auto_id_prefix: with "dev-" on both, a client
# that sends no id is admitted as dev-UUID, and an id of the default form
# (auto-UUID) is one the client chose: refused.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob
start_broker "auto_id_prefix dev-" "plugin_opt_auto_id_prefix dev-"
start_subscriber alice -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice

from=$(wc -l <"$BROKER_LOG")
out=$(publish_with_token ./bob_token "assigned dev id") || fail "empty client id refused: $out"
wait_for_output alice "assigned dev id"
expect_in_log "New client connected from .* as dev-[0-9A-F-]{36} .*u'bob'" "an id with the broker's prefix" 5 "$from"
pass "empty client id admitted with the broker's auto_id_prefix"

out=$(publish_with_token ./bob_token "chosen" --id auto-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718) &&
    fail "an id of another prefix taken for assigned"
expect_refused "$out" "bob's token with -i auto-UUID"
pass "an id of the assigned form with another prefix refused"

stop_broker
log=$(run_broker_expecting_refusal "plugin_opt_auto_id_prefix alice:")
grep -qF "plugin_opt_auto_id_prefix must be without ':'" <<<"$log" || fail "no reason given: $log"
pass "an auto_id_prefix with ':' refuses the broker's start"
