# A session under an id the broker assigned holds it only while no client
# has that id: once a client is registered under that very id, the next
# re-check cuts the session (as a deleted client's), or it would squat the
# new client's id and its stored session. The token holder's session under
# its own id stays; the new client connects under its id.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients bob carol
start_broker

# mosquitto_sub without --id sends an empty client id: the broker assigns one.
from=$(wc -l <"$BROKER_LOG")
mosquitto_sub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat ./bob_token)" -t 'db/#' \
    >"$WORK/bob-assigned.out" 2>"$WORK/bob-assigned.err" &
SUB_PID[bob-assigned]=$!
at_exit "kill ${SUB_PID[bob-assigned]} 2>/dev/null"
expect_in_log "Sending SUBACK to auto-[0-9A-F-]{36}\$" "bob's subscriber under an assigned id" 5 "$from"
assigned=$(tail -n "+$((from + 1))" "$BROKER_LOG" | grep -oE "Sending SUBACK to auto-[0-9A-F-]{36}" |
    head -n 1 | cut -d' ' -f4)
start_subscriber bob-own -p "$TOKEN_PORT" --username "$(cat ./bob_token)" --id bob:sub
out=$(publish_with_token ./carol_token "before gen") || fail "carol refused: $out"
wait_for_output bob-assigned "before gen"
pass "bob's empty client id admitted as $assigned"

keytool gen "$assigned" >/dev/null
expect_dropped "$(now_millis)" bob "its MQTT client id, assigned by the broker, is now a registered client's" \
    "$assigned"
pass "bob's session under $assigned cut within $DROPPED_MS ms of its registration"

out=$(publish_with_token "./${assigned}_token" "the id's own client" --id "$assigned") ||
    fail "$assigned refused its own id: $out"
wait_for_output bob-own "the id's own client"
! grep -q "disconnecting MQTT client 'bob:sub'" "$BROKER_LOG" || fail "bob's own session was cut"
pass "the registered client connects under its id; bob's session under his own id stayed"
expect_no_secret_in_log
