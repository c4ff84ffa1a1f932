#!/bin/bash
# keytool stopped (SIGSTOP, held a while, then continued) or killed (SIGKILL)
# at every point of a commit, while the real NGINX and Mosquitto serve one
# registry: a bystander's requests and CONNECTs are never refused and never
# slow, its live MQTT session and open HTTP stream are not cut; the client
# being deleted is admitted until the counter publishes the change, refused
# from then on; after a kill the next keytool write publishes what LMDB
# committed, and NGINX, the broker and `keytool list` agree. Then the same
# for commits that make a new, bigger index file.
source "$(dirname "$0")/faults_lib.sh"
export STREAMS_LIFETIME=600

keytool gen bystander >/dev/null
for point in "${POINTS[@]}"; do
    for mode in stop kill; do keytool gen "v-$point-$mode" >/dev/null; done
done

start_upstream http-server   # $UP: the SSE stream
ECHO=$(free_port)
PORT=$(free_port)
start_nginx "$(upstream_server "$ECHO")
$(token_server "$PORT" "
        proxy_read_timeout 600s;
        location / {
            proxy_pass http://127.0.0.1:$ECHO;
            proxy_set_header X-Client-Id \$keyauth_client_id;
        }
        location /events {
            proxy_pass http://127.0.0.1:$UP;
            proxy_buffering off;
        }")"
URL=http://127.0.0.1:$PORT/db/query
start_broker

# The bystander: a live MQTT session, an open HTTP stream, and a client that
# keeps asking both servers from now to the end.
start_subscriber live -p "$TOKEN_PORT" --username "$(cat ./bystander_token)" --id bystander:live
sse_client stream "http://127.0.0.1:$PORT/events" -H "Authorization: Bearer $(cat ./bystander_token)" \
    --max-time 600
wait_for_lines stream data 5
python3 "$(dirname "$0")/prober.py" "$URL" "$TOKEN_PORT" ./bystander_token "$WORK/prober.stop" \
    "$SLOW_LIMIT" "$STALL_LIMIT" >"$WORK/prober.out" 2>"$WORK/prober.err" &
PROBER=$!
at_exit "kill $PROBER 2>/dev/null"
for verdict in "$(http_verdict "$URL" ./bystander_token)" "$(mqtt_verdict ./bystander_token)"; do
    expect_eq "$verdict" admitted "the bystander, before any fault"
done
pass "NGINX and the broker serve; the bystander holds a session and a stream"

# expect_everywhere TOKEN-FILE VERDICT WHAT: NGINX, the broker and (unless
# the writer still holds the registry) keytool list.
expect_everywhere() {
    expect_eq "$(http_verdict "$URL" "$1")" "$2" "$3: NGINX"
    expect_eq "$(mqtt_verdict "$1")" "$2" "$3: the broker"
    [ "${4:-}" == servers-only ] || expect_eq "$(listed_by_keytool "$(id_of "$1")")" "$2" "$3: keytool list"
}

# fault POINT MODE TOKEN-FILE BEFORE AFTER WHILE COMMAND...: COMMAND (a
# keytool write that changes TOKEN-FILE's client from BEFORE to AFTER) is
# stopped at POINT for about a second, during which the servers answer for
# that client WHILE (BEFORE, AFTER or "any") and always admit the bystander;
# then it is continued (MODE stop) or killed (MODE kill) and, after the next
# write, everyone agrees on AFTER (BEFORE if it was killed before its commit).
# MODE kill-at-once: killed as soon as it stops, the next write at once (the
# servers have had no time to look at the registry meanwhile).
RUN=0
fault() {
    local point=$1 mode=$2 token=$3 before=$4 after=$5 while=$6 round rounds=3 final
    shift 6
    RUN=$((RUN + 1))
    local what="$mode at $point (keytool ${*:2})"
    stop_writer_at "$point" "$@"
    [ "$mode" != kill-at-once ] || rounds=0
    for ((round = 0; round < rounds; round++)); do
        expect_everywhere ./bystander_token admitted "bystander, writer stopped: $what" servers-only
        if [ "$while" != any ]; then
            expect_everywhere "$token" "$while" "changed client, writer stopped: $what" servers-only
        fi
        sleep 0.2
    done
    if [ "$mode" == stop ]; then
        kill -CONT "$WRITER"
        wait_writer
        expect_eq "$WRITER_STATUS" 0 "$what: exit status after SIGCONT ($(cat "$WORK/writer.err"))"
        final=$after
    else
        kill -KILL "$WRITER"
        wait_writer
        expect_eq "$WRITER_STATUS" 137 "$what: exit status after SIGKILL"
        if [ "$mode" == kill ]; then
            expect_everywhere ./bystander_token admitted "bystander, writer killed: $what" servers-only
            if [ "$while" != any ]; then
                expect_everywhere "$token" "$while" "changed client, writer killed: $what" servers-only
            fi
        fi
        keytool gen "next-$RUN" >/dev/null || fail "the next write after $what"
        expect_everywhere ./bystander_token admitted "bystander after the next write: $what" servers-only
        expect_everywhere "./next-${RUN}_token" admitted "the next write's client after $what"
        final=$after
        [ "$point" != before-commit ] || final=$before
    fi
    expect_everywhere "$token" "$final" "changed client after $what"
    expect_everywhere ./bystander_token admitted "bystander after $what"
    pass "$what: bystander admitted throughout, changed client $while while stopped, $final after"
}

for point in "${POINTS[@]}"; do
    while=admitted
    [ "$point" != published ] || while=refused
    for mode in stop kill; do
        fault "$point" "$mode" "./v-$point-${mode}_token" admitted refused "$while" \
            "$KEYTOOL" del "v-$point-$mode"
    done
done

# Growth: a gen that takes the registry past the index's capacity (its
# tables 85 % full) makes a new file. The registry is filled to the brim
# first (one transaction of made-up clients).
inode() { stat -c %i "$KEYAUTH_REGISTRY/lookup.idx"; }
growth() {
    local point=$1 mode=$2 while=$3 id="g-$1-$2" before_inode
    "$FILL_REGISTRY" "$KEYAUTH_REGISTRY" bystander fill "$(index_capacity "$KEYAUTH_REGISTRY")"
    before_inode=$(inode)
    fault "$point" "$mode" "./${id}_token" refused admitted "$while" "$KEYTOOL" gen "$id"
    [ "$(inode)" != "$before_inode" ] || fail "gen $id did not make a new lookup.idx"
    [ ! -e "$KEYAUTH_REGISTRY/lookup.idx.new" ] || fail "lookup.idx.new left behind after $id"
}
growth lmdb-committed kill refused     # a staged new file, never renamed in
growth new-file-in-place stop any      # readers may reopen the new file before the counter moves
growth new-file-in-place kill any
growth published kill admitted
# Killed between renaming the new file in and retiring the old one, and the
# next write at once: the servers still on the old file must follow the path.
growth new-file-in-place kill-at-once any

touch "$WORK/prober.stop"
wait "$PROBER" || fail "the prober failed: $(cat "$WORK/prober.err")"
summary=$(tail -n 1 "$WORK/prober.out")
[[ "$summary" == probes* ]] || fail "the prober's summary: $(cat "$WORK/prober.out" "$WORK/prober.err")"
expect_eq "$(grep -E '^(refused|stalled) ' "$WORK/prober.out" || true)" "" "the prober's refused or stalled answers"
read -r _ http mqtt _ slowest <<<"$summary"
slow_ones=$(grep -c '^slow ' "$WORK/prober.out" || true)
[ "$slow_ones" -le $(((http + mqtt) / 100)) ] ||
    fail "$slow_ones of $((http + mqtt)) answers slower than $SLOW_LIMIT s: $(grep '^slow ' "$WORK/prober.out")"
echo "# prober: $http HTTP requests, $mqtt MQTT CONNECTs, slowest $slowest s, $slow_ones over $SLOW_LIMIT s" >&2
pass "the bystander's own client: never refused, never $STALL_LIMIT s, at most 1 in 100 over $SLOW_LIMIT s"

publish_with_token ./bystander_token "after the faults" >/dev/null || fail "bystander publishing"
wait_for_output live "after the faults"
kill -0 "${SUB_PID[live]}" 2>/dev/null || fail "the bystander's MQTT session ended"
! grep -q "disconnecting MQTT client '[^']*' of 'bystander'" "$BROKER_LOG" ||
    fail "the broker disconnected the bystander: $(grep "of 'bystander'" "$BROKER_LOG")"
expect_still_flowing stream data "the bystander's HTTP stream"
expect_eq "$(cuts_of bystander)" 0 "NGINX cuts of the bystander's stream"
expect_clean_error_log ./bystander_token
pass "the bystander's MQTT session and HTTP stream were never cut"
