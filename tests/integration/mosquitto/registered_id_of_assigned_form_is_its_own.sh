# A registered id may have the form of one the broker assigns: a UUID in
# upper case after a prefix (sensor-UUID), the broker's own auto_id_prefix
# too (auto-UUID). Such an id is its client's alone: another client's token
# cannot connect under it, so cannot wipe its stored session with a clean
# session, as it could before (review-2 M-A: V's queued message was lost).
source "$TESTLIB"
source "$BROKER_LIB"
V=sensor-3F2504E0-4F89-11D3-9A0C-0305E82C3301
W=auto-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718
gen_clients "$V" "$W" bob alice
mkdir -p "$WORK/persist"
chown mosquitto "$WORK/persist"
start_broker "persistence true" "persistence_location $WORK/persist/"

for id in "$V" "$W"; do
    out=$(publish_with_token ./bob_token "bob as $id" --id "$id") && fail "bob's token admitted as '$id'"
    expect_refused "$out" "bob's token with -i $id"
done
# Only bob's first refusal for a reason gets a line (refusal_log_one_line_a_minute.sh).
expect_in_log "refused MQTT client '$V' from [^:]+: token of 'bob': MQTT client id is not the client's" \
    "the refusal names the id tried"
out=$(publish_with_token "./${W}_token" "W itself" --id "$W") || fail "$W refused its own id: $out"
pass "a registered id of the assigned form is refused to another client's token, admitted to its own"

# V's persistent session, with V offline across a broker restart: the
# broker restores it from persistence, the plugin has never seen it.
timeout 5 mosquitto_sub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat "./${V}_token")" \
    -i "$V" -c -q 1 -t 'db/#' -W 1 >/dev/null 2>&1 || true
stop_broker
run_broker
publish_with_token ./alice_token "queued for V" -q 1 >/dev/null || fail "alice's publish refused"
out=$(publish_with_token ./bob_token "bob as V" --id "$V") && fail "bob's token admitted as V after the restart"
expect_refused "$out" "bob's token with -i $V after the restart"
got=$(timeout 5 mosquitto_sub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat "./${V}_token")" \
    -i "$V" -c -q 1 -t 'db/#' -W 2 2>&1 || true)
[[ "$got" == *"queued for V"* ]] || fail "V's stored session lost its queued message: [$got]"
pass "V's stored session kept: bob's clean session under V refused after a restart"

expect_no_secret_in_log
