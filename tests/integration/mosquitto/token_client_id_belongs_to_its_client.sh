# A token session's MQTT client id belongs to its client: the registered id,
# the id followed by ':' and a suffix, or one the broker assigns to an empty
# id. bob's token cannot take alice's id, nor the id the broker assigned to
# her, and alice's live session stays. username = id, password = token works.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob
start_broker

start_subscriber alice -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice
from=$(wc -l <"$BROKER_LOG")
out=$(publish_with_token ./bob_token "bob as alice" --id alice) && fail "bob's token took the id alice"
expect_refused "$out" "bob's token with -i alice"
expect_in_log "refused MQTT client 'alice' from [^:]+: token of 'bob': MQTT client id is not the client's \(set it to the registered id" \
    "the refusal names the id tried and the registered id" 5 "$from"
out=$(publish_with_token ./alice_token "alice still here" --id alice:pub) || fail "alice refused: $out"
wait_for_output alice "alice still here"
! grep -qF "bob as alice" "$WORK/alice.out" || fail "bob's message reached alice"
! tail -n "+$((from + 1))" "$BROKER_LOG" | grep -q "already connected" || fail "alice was kicked"
kill -0 "${SUB_PID[alice]}" || fail "alice's subscriber is gone"
pass "bob's token with -i alice refused, alice's live session kept"

for id in alicex bob-sensor1 sensor1:bob; do
    out=$(publish_with_token ./bob_token "x" --id "$id") && fail "bob's token admitted as '$id'"
    expect_refused "$out" "bob's token with -i $id"
done
pass "any other client id refused"

out=$(publish_with_token ./bob_token "bob's sensor" --id bob:sensor1) || fail "bob:sensor1 refused: $out"
wait_for_output alice "bob's sensor"
out=$(publish_with_token ./bob_token "bob himself" --id bob) || fail "bob refused: $out"
wait_for_output alice "bob himself"
pass "bob's token with -i bob and -i bob:sensor1 admitted"

# The seed's form, no --id: mosquitto_pub sends an empty id, the broker assigns one.
from=$(wc -l <"$BROKER_LOG")
out=$(publish_with_token ./bob_token "assigned id") || fail "empty client id refused: $out"
wait_for_output alice "assigned id"
expect_in_log "New client connected from .* as auto-[0-9A-F-]{36} .*u'bob'" "an id the broker assigned" 5 "$from"
pass "empty client id admitted, the broker assigns it"

out=$(mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username bob --pw "$(cat ./bob_token)" \
    --id bob:ha -t db/write/EXAMPLE -m "separate fields" 2>&1) || fail "username=id, password=token refused: $out"
wait_for_output alice "separate fields"
out=$(mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username bob --pw "$(cat ./bob_token)" \
    -t db/write/EXAMPLE -m "separate fields, assigned id" 2>&1) || fail "username=id, password=token, no id refused: $out"
wait_for_output alice "separate fields, assigned id"
pass "username = registered id, password = token admitted"

out=$(mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username alice --pw "$(cat ./bob_token)" \
    --id alice:x -t db/write/EXAMPLE -m "x" 2>&1) && fail "username alice with bob's token admitted"
expect_refused "$out" "username=alice, password=bob's token"
expect_in_log "token of 'bob': credentials name different clients" "refusal logged"
pass "username = alice, password = bob's token refused"

# An id of the broker's form is no way in: alice connects with none, bob
# names the one she was given.
from=$(wc -l <"$BROKER_LOG")
mosquitto_sub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat ./alice_token)" -t 'db/#' \
    >"$WORK/alice-auto.out" 2>"$WORK/alice-auto.err" &
auto_pid=$!
at_exit "kill $auto_pid 2>/dev/null"
expect_in_log "New client connected from .* as auto-[0-9A-F-]{36} .*u'alice'" "alice's assigned id" 5 "$from"
assigned=$(tail -n "+$((from + 1))" "$BROKER_LOG" | grep -Eo "as auto-[0-9A-F-]{36} .*u'alice'" | head -n 1 | cut -d' ' -f2)
expect_in_log "Sending SUBACK to $assigned\$" "alice subscribed" 5 "$from"
out=$(publish_with_token ./bob_token "bob as $assigned" --id "$assigned") && fail "bob took alice's assigned id"
expect_refused "$out" "bob's token with alice's assigned id"
out=$(publish_with_token ./bob_token "bob as $assigned" --id "$assigned" -c) && fail "bob took alice's assigned id (persistent)"
out=$(publish_with_token ./alice_token "after the attempt" --id alice:pub) || fail "alice refused: $out"
wait_for_output alice-auto "after the attempt"
kill -0 "$auto_pid" || fail "alice's session with an assigned id is gone"
! grep -qF "bob as" "$WORK/alice-auto.out" || fail "bob's message reached alice"
pass "an id of the broker's form chosen by another client is refused; alice stays"

expect_no_secret_in_log
