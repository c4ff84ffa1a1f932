# The acl_file recipe of conf-examples/mosquitto/README.md: after admission
# the broker's username is the registered id, so `pattern readwrite db/%u/#`
# gives each client its own prefix. alice reads and writes under db/alice/,
# not under db/bob/, with her token as username or as password.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob
printf 'pattern readwrite db/%%u/#\n' >"$WORK/acl"
chmod 644 "$WORK/acl"
start_broker "acl_file $WORK/acl"

# subscribe NAME TOKEN-FILE TOPIC: a token subscriber on TOPIC, its output in NAME.out.
subscribe() {
    local name=$1 token_file=$2 topic=$3 from
    from=$(wc -l <"$BROKER_LOG")
    mosquitto_sub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat "$token_file")" \
        --id "${name%%-*}:$name" -t "$topic" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    SUB_PID[$name]=$!
    at_exit "kill ${SUB_PID[$name]} 2>/dev/null"
    expect_in_log "Sending SUBACK to ${name%%-*}:$name\$" "subscriber $name" 5 "$from"
}

subscribe alice-own ./alice_token 'db/alice/#'
subscribe bob-own ./bob_token 'db/bob/#'
subscribe bob-spy ./bob_token 'db/alice/#'

mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat ./alice_token)" \
    -t db/alice/temp -m "alice writes her own" || fail "alice publish refused"
wait_for_output alice-own "alice writes her own"
mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username alice --pw "$(cat ./alice_token)" \
    -t db/alice/temp -m "alice, separate fields" || fail "alice publish refused"
wait_for_output alice-own "alice, separate fields"
pass "alice publishes and subscribes under db/alice/"

# Mosquitto drops a publish the ACL denies without telling an MQTT 3.1.1 client.
mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat ./alice_token)" \
    -t db/bob/temp -m "alice writes bob's" || true
mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat ./bob_token)" \
    -t db/bob/temp -m "bob writes his own" || fail "bob publish refused"
wait_for_output bob-own "bob writes his own"
! grep -qF "alice writes bob's" "$WORK/bob-own.out" || fail "alice wrote under db/bob/"
expect_in_log "Denied PUBLISH from .*'db/bob/temp'" "the broker denied alice's publish"
pass "alice cannot publish under db/bob/"

! grep -qF "alice writes her own" "$WORK/bob-spy.out" || fail "bob read under db/alice/"
! grep -qF "alice, separate fields" "$WORK/bob-spy.out" || fail "bob read under db/alice/"
pass "bob cannot read under db/alice/"
