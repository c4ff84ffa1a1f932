# With per_listener_settings true the broker sends the plugin no tick, so
# live revocation is off: the plugin says so loudly at start. Without it,
# no such warning, and a deleted client's session is dropped. The plugin
# learns it from the broker's private mosquitto_plugin_id_t
# (mosquitto-plugin/src/broker_private.cpp): this runs that read, both ways,
# on the packaged broker.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice

start_broker
expect_in_log "keyauth: registry " "the plugin started"
! grep -q "per_listener_settings" "$BROKER_LOG" || fail "warning without per_listener_settings"
stop_broker
pass "no warning by default"

# The same listeners, the plugin configured for the token listener alone.
pick_ports
mosquitto_conf "per_listener_settings true" "$(mosquitto_listener "$TOKEN_PORT")" \
    "$(mosquitto_plugin "$BROKER_PLUGIN" "$KEYAUTH_REGISTRY")" >"$WORK/mosquitto.conf"
BROKER_LOG=$WORK/broker-per-listener.log
run_broker
expect_in_log "keyauth: WARNING: per_listener_settings true: .* NOT disconnected" \
    "the warning at start"
pass "per_listener_settings true: the broker log warns that live revocation is off"

# What the warning is about: the session outlives the deletion.
start_subscriber alice -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice
keytool del alice >/dev/null
sleep 1.5
kill -0 "${SUB_PID[alice]}" || fail "alice was dropped: the warning is stale"
out=$(publish_with_token ./alice_token "x") && fail "deleted alice admitted"
expect_refused "$out" "deleted alice connecting again"
pass "as warned: no live revocation, refused on the next connect"
