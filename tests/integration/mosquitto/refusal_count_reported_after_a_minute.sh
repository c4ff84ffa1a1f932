# The refusals counted quietly are reported once their minute is over, from
# the broker's tick, even when the device has stopped: one line with the
# count. (Waits a minute.)
source "$TESTLIB"
source "$BROKER_LIB"
keytool gen looper >/dev/null
start_broker
keytool del looper >/dev/null

for _ in $(seq 10); do
    publish_with_token ./looper_token "$PAYLOAD" >/dev/null 2>&1 && fail "deleted token accepted"
done
expect_in_log "keyauth: refused MQTT client .*token of 'looper': unknown client" "the first refusal"
expect_in_log "keyauth: 9 more refusals of 'looper' \(unknown client\) in the last 6[0-9] s" \
    "the count, a minute later" 75
publish_with_token ./looper_token "$PAYLOAD" >/dev/null 2>&1 && fail "deleted token accepted"
stop_broker
expect_eq "$(grep -c "refused MQTT client .*token of 'looper'" "$BROKER_LOG")" "1" \
    "refusal lines: the next refusal is inside the new minute"
expect_no_secret_in_log
pass "a quiet minute's refusals reported with their count"
