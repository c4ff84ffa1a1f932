# SIGHUP re-runs authentication for the persistent sessions the broker keeps
# offline too. A live client's offline session passes quietly and keeps its
# queued messages; a deleted client's is named as such, never as a
# "malformed credential".
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob
start_broker

# Persistent (clean session off) QoS 1 subscriptions, then offline.
for who in alice bob; do
    start_subscriber "$who" -p "$TOKEN_PORT" --username "$(cat ./${who}_token)" \
        --id "$who:persist" -c -q 1
    kill "${SUB_PID[$who]}"
    expect_in_log "Client $who:persist (closed its connection|disconnected)" "$who offline"
done
# And one in the username = id, password = token form.
start_subscriber alice-pw -p "$TOKEN_PORT" --username alice --pw "$(cat ./alice_token)" \
    --id alice:pw -c -q 1
kill "${SUB_PID[alice-pw]}"
expect_in_log "Client alice:pw (closed its connection|disconnected)" "alice:pw offline"
out=$(publish_with_token ./alice_token "queued while offline" --id alice:pub -q 1) ||
    fail "publish refused: $out"
keytool del bob >/dev/null

from=$(wc -l <"$BROKER_LOG")
kill -HUP "$BROKER_PID"
expect_in_log "Reloading config" "reload"
out=$(publish_with_token ./alice_token "after reload" --id alice:pub -q 1) || fail "refused after reload: $out"
after=$(tail -n "+$((from + 1))" "$BROKER_LOG")
! grep -q "malformed credential" <<<"$after" || fail "an offline session logged as malformed: $after"
! grep -q "alice" <<<"$(grep "keyauth: refused\|no longer admitted" <<<"$after")" ||
    fail "alice's offline session refused on reload"
expect_in_log "keyauth: offline session 'bob:persist' of 'bob' no longer admitted: unknown client" \
    "bob's offline session named" 5 "$from"
pass "SIGHUP: offline sessions answered quietly, a deleted client's named as such"

start_subscriber alice-back -p "$TOKEN_PORT" --username "$(cat ./alice_token)" \
    --id alice:persist -c -q 1
wait_for_output alice-back "queued while offline"
wait_for_output alice-back "after reload"
start_subscriber alice-pw-back -p "$TOKEN_PORT" --username alice --pw "$(cat ./alice_token)" \
    --id alice:pw -c -q 1
wait_for_output alice-pw-back "queued while offline"
pass "alice's persistent session and its queued messages survived the reload"
expect_no_secret_in_log
