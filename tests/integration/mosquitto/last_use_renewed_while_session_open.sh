# plugin_opt_last_use: a session still open is a use at every interval. A
# device subscribed across a minute's end is recorded at the new minute, not
# only at its CONNECT's (keytool list --unused 90d must not name a device
# connected for 100 days). Sessions that ended are not: one that closed, one
# kept offline (clean session off), one cut by keytool suspend.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients sensor01 closed01 parked01 suspended01
new_last_use_file mosquitto
start_broker "plugin_opt_last_use $LAST_USE" "plugin_opt_last_use_interval 1"

start_subscriber sensor -p "$TOKEN_PORT" --username "$(cat ./sensor01_token)" --id sensor01
start_subscriber suspended -p "$TOKEN_PORT" --username "$(cat ./suspended01_token)" \
    --id suspended01
start_subscriber parked -p "$TLS_PORT" --id parked01 -c -q 1 \
    --cert ./parked01_cert.pem --key ./parked01_key.pem --cafile ./server.crt
kill "${SUB_PID[parked]}"
expect_in_log "Client parked01 (closed its connection|disconnected)" "parked01 offline"
out=$(publish_with_token ./closed01_token "$PAYLOAD") || fail "closed01's token refused: $out"
expect_eq "$(keytool suspend suspended01)" "suspended" "keytool suspend"
expect_dropped "$(now_millis)" suspended01 suspended suspended01
declare -A AT_CONNECT
latest=0
for id in sensor01 closed01 parked01 suspended01; do
    wait_for_last_use "$LAST_USE" "$id"
    AT_CONNECT[$id]=$(last_used "$LAST_USE" "$id")
    [ "${AT_CONNECT[$id]}" -le "$latest" ] || latest=${AT_CONNECT[$id]}
done

wait_for_minute_after "$latest" 2.5   # then two intervals
kill -0 "${SUB_PID[sensor]}" || fail "sensor01's subscription ended"
recorded=$(last_used "$LAST_USE" sensor01)
[ "$recorded" -ge $((latest + 60)) ] ||
    fail "sensor01's last use $recorded is its CONNECT's minute ${AT_CONNECT[sensor01]}: the open session was not counted"
expect_eq "$(unused_clients "$LAST_USE" 30s)" "closed01
parked01
suspended01" "clients unused within 30 s (their minute is over)"
pass "plugin_opt_last_use: an open session is recorded at a later minute than its CONNECT"

for id in closed01 parked01 suspended01; do
    expect_eq "$(last_used "$LAST_USE" "$id")" "${AT_CONNECT[$id]}" "$id's last use (session over)"
done
expect_not_contains "$(cat "$BROKER_LOG")" "last use:" "broker log"
pass "plugin_opt_last_use: closed, offline and cut sessions keep their last real use"

expect_no_secret_in_log
