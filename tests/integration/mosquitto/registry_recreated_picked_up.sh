# The registry directory removed and made anew under a running broker: within
# a second the new registry's clients are admitted and the old ones refused.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients old
start_broker
out=$(publish_with_token ./old_token "before") || fail "old client refused at first: $out"

mv "$KEYAUTH_REGISTRY" "$WORK/registry.old"
init_registry
keytool gen new >/dev/null
sleep 1

out=$(publish_with_token ./new_token "new registry") || fail "new client refused: $out"
if out=$(publish_with_token ./old_token "old registry"); then fail "old client admitted"; fi
expect_refused "$out" "old client after the registry was replaced"
pass "a recreated registry is picked up within a second"

rm -rf "$KEYAUTH_REGISTRY"
sleep 1
if out=$(publish_with_token ./new_token "no registry"); then fail "admitted with no registry"; fi
expect_refused "$out" "with the registry gone"
pass "with the registry gone, every token is refused"
