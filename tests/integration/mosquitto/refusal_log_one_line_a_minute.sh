# A device looping with a deleted token does not flood the broker log: its
# first refusal is logged (MQTT client id, address, registered id, reason),
# the next ones within the minute are counted quietly. Another client's
# refusal still gets its own line.
source "$TESTLIB"
source "$BROKER_LIB"
keytool gen looper >/dev/null
keytool gen other >/dev/null
start_broker
keytool del looper >/dev/null
keytool del other >/dev/null

refused=0
for _ in $(seq 50); do
    publish_with_token ./looper_token "$PAYLOAD" >/dev/null 2>&1 || refused=$((refused + 1))
done
expect_eq "$refused" "50" "the deleted client's CONNECTs refused"
publish_with_token ./other_token "$PAYLOAD" >/dev/null 2>&1 && fail "deleted token accepted"
stop_broker

expect_eq "$(grep -c "keyauth: refused MQTT client .*token of 'looper'" "$BROKER_LOG")" "1" \
    "refusal lines for the deleted client"
expect_in_log "refused MQTT client '[^']*' from 127\.0\.0\.1: token of 'looper': unknown client" \
    "client id, address and reason"
pass "50 refusals of one deleted client: one line"
expect_eq "$(grep -c "keyauth: refused MQTT client .*token of 'other': unknown client" "$BROKER_LOG")" \
    "1" "the other client's refusal line"
pass "another client's refusal still logged"
expect_no_secret_in_log
pass "no token secret in the broker log"
