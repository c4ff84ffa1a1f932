# The plugin's counters under $SYS/broker/keyauth/: CONNECTs by credential
# and verdict, live sessions, sessions cut and why, registry errors; retained
# like the broker's own $SYS, each topic sent again only when it changed.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob watcher
start_broker "plugin_opt_sys_interval 1"
expect_in_log 'counters published under \$SYS/broker/keyauth/ every 1 s' "interval logged"

# A live watcher from after the first publication: it sees only changes.
sleep 1.5
mosquitto_sub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat ./watcher_token)" --id watcher:live \
    -R -v -t '$SYS/broker/keyauth/#' >"$WORK/live.out" 2>"$WORK/live.err" &
at_exit "kill $! 2>/dev/null"
expect_in_log 'Sending SUBACK to watcher:live$' "live watcher subscribed"

out=$(publish_with_token ./alice_token "$PAYLOAD") || fail "alice's token refused: $out"
out=$(publish_with_certificate ./bob "$PAYLOAD") || fail "bob's certificate refused: $out"
token=$(cat ./bob_token)
printf '%s\n' "bob:b:$(tr '0-9a-f' '1-9a-f0' <<<"${token##*:}")" >./forged
out=$(publish_with_token ./forged "$PAYLOAD") && fail "a forged token accepted"
out=$(mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" -t db/write/EXAMPLE -m "$PAYLOAD" 2>&1) &&
    fail "no token accepted"
out=$(publish_with_certificate ./bob "$PAYLOAD" --id alice) && fail "bob's certificate as alice"

# keytool del cuts alice's live session; its one reconnection is refused.
start_subscriber alice -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice:sub
keytool del alice >/dev/null
expect_dropped "$(now_millis)" alice "unknown client" alice:sub
wait_for_exit alice
out=$(publish_with_token ./alice_token "$PAYLOAD") && fail "deleted alice accepted"

declare -A expected=(
    [connects/token/accepted]=3            # the live watcher, alice's pub and sub
    [connects/token/missing]=1
    # the subscriber's reconnection, the pub, and the forged secret of a
    # registered id: counted alike, or the topics would tell which ids exist
    [connects/token/unknown_client]=3
    [connects/certificate/accepted]=1
    [connects/certificate/client_id_refused]=1
    [sessions/cut]=1
    [sessions/cut/unknown_client]=1
    [sessions/tracked]=1                   # the live watcher
    [registry/errors]=0
    # alice's sub, with the token her pub was admitted by: no commit between
    [verification_cache/hits]=1
    # the live watcher, alice's pub, the forged token, the reconnection and
    # the pub after the del (a commit: every remembered verdict retired)
    [verification_cache/misses]=5
)
verdicts=(accepted missing malformed unknown_client not_yet_valid expired registry_error
    not_verified different_clients client_id_refused password_missing suspended)
topics=(sessions/cut sessions/tracked registry/errors sessions/cut/mismatch
    verification_cache/hits verification_cache/misses)
for v in "${verdicts[@]}"; do
    topics+=("connects/token/$v" "connects/certificate/$v")
    [ "$v" == accepted ] || topics+=("sessions/cut/$v")
done
# No connects/*/mismatch: a wrong secret is counted as an unknown client.
[ "${#topics[@]}" -eq 41 ] || fail "expected 41 topics, listed ${#topics[@]}"

# Past the next publication, a client the plugin admits reads them all.
sleep 2
declare -A got=()
while read -r topic value; do
    got[${topic#\$SYS/broker/keyauth/}]=$value
done < <(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$TOKEN_PORT" --id watcher:sys \
    --username "$(cat ./watcher_token)" -t '$SYS/broker/keyauth/#' -v -C "${#topics[@]}" ||
    fail "fewer than ${#topics[@]} retained \$SYS/broker/keyauth topics")
[ "${#got[@]}" -eq "${#topics[@]}" ] || fail "got ${#got[@]} topics: ${!got[*]}"
for t in "${topics[@]}"; do
    [ "${got[$t]-absent}" == "${expected[$t]-0}" ] ||
        fail "\$SYS/broker/keyauth/$t is ${got[$t]-absent}, expected ${expected[$t]-0}"
done
pass "every counter has its exact value"

# The live watcher saw the changed topics, never the unchanged ones.
grep -qx '$SYS/broker/keyauth/connects/token/unknown_client 3' "$WORK/live.out" ||
    fail "no live update of connects/token/unknown_client: $(cat "$WORK/live.out")"
! grep -q 'connects/token/mismatch' "$WORK/live.out" ||
    fail "a mismatch topic tells which ids are registered: $(cat "$WORK/live.out")"
grep -qx '$SYS/broker/keyauth/sessions/cut/unknown_client 1' "$WORK/live.out" ||
    fail "no live update of sessions/cut/unknown_client"
! grep -E 'connects/certificate/expired|registry/errors' "$WORK/live.out" ||
    fail "an unchanged topic was published again"
pass "only changed topics are published again"
