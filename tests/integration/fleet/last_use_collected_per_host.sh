# keyauth-sync --publish-last-use: each host's broker records the clients it
# admits (plugin_opt_last_use); each host's keyauth-sync publishes that file
# into etcd under /keyauth-usage/<fleet id>/<host>/, outside what the
# replicas watch; keytool --etcd list --unused, show and serve read every host's.
# A shard is put only when it changed (days: a use later the same day
# changes nothing); a malformed shard fails list --unused, naming host and key.
source "$FLEET_LIB"
source "$(dirname "$FLEET_LIB")/../console/console_lib.sh"
start_fleet alice bob carol
TODAY=$(date -u +%F)

out=$("$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$WORK/unused" --publish-last-use a,,b 2>&1) &&
    fail "an empty file name accepted"
expect_contains "$out" "--publish-last-use needs FILE[,FILE...]" "the refusal"
out=$("$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$WORK/unused" --publish-last-use a \
    --host-name 'a/b' 2>&1) && fail "a host name with a slash accepted"
expect_contains "$out" "--host-name needs a DNS name" "the refusal"
out=$("$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$WORK/unused" --host-name host-a 2>&1) &&
    fail "--host-name without --publish-last-use accepted"
expect_contains "$out" "go with --publish-last-use" "the refusal"
[ ! -e "$WORK/unused" ] || fail "a refused start made a registry"
pass "--publish-last-use and --host-name are checked before anything starts"

# A shard left over from an earlier run of host-a: no longer needed, deleted.
etcdctl --endpoints "$ETCD" put "/keyauth-usage/$FLEET_ID/host-a/7" stale >/dev/null

# usage_dir NAME: a directory the broker (mosquitto) writes its file in.
usage_dir() {
    mkdir "$WORK/$1"
    chown mosquitto: "$WORK/$1"
    chmod 700 "$WORK/$1"
}
usage_dir usage-a
usage_dir usage-b
declare -A METRICS_PORT
for i in 1 2; do
    METRICS_PORT[$i]=$(free_port)
    name=$([ "$i" == 1 ] && echo host-a || echo host-b)
    start_host "$i" --publish-last-use "$WORK/usage-${name#host-}/last-use" \
        --publish-last-use-interval 1 --host-name "$name" --metrics "127.0.0.1:${METRICS_PORT[$i]}"
    start_broker "$i" "plugin_opt_last_use $WORK/usage-${name#host-}/last-use" \
        "plugin_opt_last_use_interval 1"
done
metric() { curl -s "http://127.0.0.1:${METRICS_PORT[$1]}/metrics" | awk -v n="$2" '$1 == n {print $2}'; }
metric_is() { [ "$(metric "$1" "$2")" == "$3" ]; }

# alice on both brokers, bob on host-b's only, carol nowhere.
publish 1 ./alice_token "from a" >/dev/null || fail "alice on host 1"
publish 2 ./alice_token "from b" >/dev/null || fail "alice on host 2"
publish 2 ./bob_token "from b" >/dev/null || fail "bob on host 2"

unused_in_fleet() {
    admin list --unused 1d --json | python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(sys.stdin)))'
}
only_carol_unused() { [ "$(unused_in_fleet)" == carol ]; }
wait_until 15 "both hosts' uses published" only_carol_unused
expect_eq "$(etcdctl --endpoints "$ETCD" get --prefix "/keyauth-usage/$FLEET_ID/" --keys-only | sed '/^$/d')" \
    "/keyauth-usage/$FLEET_ID/host-a/0
/keyauth-usage/$FLEET_ID/host-b/0" "one shard a host, the stale one deleted"
table=$(admin list --unused 1d)
expect_contains "$table" "LAST USED" "the table's column"
expect_contains "$(echo "$table" | grep carol)" "never" "carol's row"
expect_eq "$(admin list --json | python3 -c 'import json,sys; print(" ".join(str(c["last_used"]) for c in json.load(sys.stdin)))')" \
    "$(date -u -d "$TODAY" +%s) $(date -u -d "$TODAY" +%s) None" "list --json's last_used: the day's start"
pass "keytool --etcd list --unused: alice (both hosts) and bob (host-b) used, carol unused"

shown=$(admin show alice)
expect_contains "$shown" "LAST USED           $TODAY 00:00:00 +0000 UTC (at least this recent)" "show alice"
expect_contains "$shown" "LAST USED BY HOST   $TODAY (host-a), $TODAY (host-b)" "show alice, per host"
expect_contains "$(admin show bob)" "LAST USED BY HOST   $TODAY (host-b)" "show bob"
expect_contains "$(admin show carol)" "LAST USED BY HOST   never" "show carol"
expect_eq "$(admin show alice --json | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)["last_used_by_host"]))')" \
    "['host-a', 'host-b']" "show --json's hosts"
pass "keytool --etcd show names each host that saw the client, with its day"

start_console --registry "$ADMIN" --etcd "$ETCD"
console_login
answer=$(api GET '/api/v1/clients?unused=1d')
expect_contains "$answer" '"total":1,' "unused=1d's total"
expect_contains "$answer" '"id":"carol"' "unused=1d lists carol"
expect_contains "$(api GET '/api/v1/clients?q=alice')" "\"last_used\":$(date -u -d "$TODAY" +%s)" "alice's last_used"
expect_contains "$(api GET '/api/v1/clients?q=alice')" '"last_use_errors":[]' "no errors"
stop_console
pass "keytool --etcd serve: last_used and unused= from the hosts' shards"

# Nothing new: nothing put. A use later the same day: the same day, nothing put.
wait_until 5 "host 1's put counted" metric_is 1 keyauth_sync_last_use_published_total 1
shard_revision() {
    etcdctl --endpoints "$ETCD" get "/keyauth-usage/$FLEET_ID/host-a/0" -w json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["mod_revision"])'
}
before=$(shard_revision)
recorded_before=$(python3 -c 'import os,sys; print(os.stat(sys.argv[1]).st_mtime_ns)' "$WORK/usage-a/last-use")
errors=$(metric 1 keyauth_sync_last_use_publish_errors_total)  # before the broker's first write
wait_for_minute_after "$(date +%s)" 0  # a new minute for alice's record
publish 1 ./alice_token "again" >/dev/null || fail "alice again on host 1"
file_rewritten() {
    [ "$(python3 -c 'import os,sys; print(os.stat(sys.argv[1]).st_mtime_ns)' "$WORK/usage-a/last-use")" != "$recorded_before" ]
}
wait_until 5 "host-a's file rewritten with alice's new minute" file_rewritten
sleep 3  # three passes
expect_eq "$(shard_revision)" "$before" "host-a's shard revision"
expect_eq "$(metric 1 keyauth_sync_last_use_published_total)" 1 "shards put by host 1"
expect_eq "$(metric 1 keyauth_sync_last_use_publish_errors_total)" "$errors" "publish errors on host 1"
pass "a use later the same day: the shard is not put again (revision and count unchanged)"

# A new client used: host-a's shard changes, once; the replicas apply nothing.
commits=$(metric 2 keyauth_sync_watch_commits_total)
applied=$(metric 2 keyauth_sync_applied_revision)
publish 1 ./carol_token "first" >/dev/null || fail "carol on host 1"
wait_until 10 "carol's use published" metric_is 1 keyauth_sync_last_use_published_total 2
[ "$(etcd_revision)" -gt "$applied" ] || fail "etcd's revision did not move with the put"
sleep 3  # a heartbeat and a watch session
expect_eq "$(metric 2 keyauth_sync_watch_commits_total)" "$commits" "host 2's watch commits"
# etcd's revision is taken as host 2's only by its digest check's proof
# that nothing under /keyauth/ changed (writes_elsewhere_in_etcd_no_rebuild).
[ "$(metric 2 keyauth_sync_applied_revision)" == "$applied" ] ||
    [ "$(metric 2 keyauth_sync_quiet_revisions_followed_total)" -ge 1 ] ||
    fail "host 2's applied revision moved without a change of the fleet's"
expect_eq "$(metric 1 keyauth_sync_last_use_published_total)" 2 "one put for carol"
expect_eq "$(unused_in_fleet)" "" "no client unused"
pass "a new client's first use: one put; the replicas' watch sees nothing (no commit, no cache flush)"

# A client deleted: it leaves its host's shard (only the registry's clients are published).
shard_holds() { etcdctl --endpoints "$ETCD" get "/keyauth-usage/$FLEET_ID/$1/0" --print-value-only | grep -aq "$2"; }
shard_holds host-b bob || fail "bob not in host-b's shard before his del"
admin del bob >/dev/null
bob_left_host_b() { ! shard_holds host-b bob; }
wait_until 10 "bob gone from host-b's shard after his del" bob_left_host_b
shard_holds host-b alice || fail "alice gone from host-b's shard with bob"
pass "a client deleted from the registry leaves the host's shard"

# host-b's file made again (moved aside, a new disk): what host-b published
# before stays in its shard. The broker starts a new file with carol's use;
# alice, used on host-b before, is still in host-b's shard beside her.
mv "$WORK/usage-b/last-use" "$WORK/usage-b/last-use.old"
publish 2 ./carol_token "from b" >/dev/null || fail "carol on host 2"
carol_on_host_b() { shard_holds host-b carol; }
wait_until 10 "carol in host-b's shard" carol_on_host_b
shard_holds host-b alice || fail "host-b's history erased by a file made again"
pass "a last-use file made again: the host's published history is kept"

# A malformed shard (another writer, a bug): list --unused fails naming it.
etcdctl --endpoints "$ETCD" put "/keyauth-usage/$FLEET_ID/host-c/0" "$(printf '\001\001\000\001a')" >/dev/null
out=$(admin list --unused 1d 2>&1) && fail "list --unused with a malformed shard succeeded: $out"
expect_contains "$out" "host host-c: etcd key /keyauth-usage/$FLEET_ID/host-c/0: last-use shard refused" "the error"
out=$(admin show alice 2>&1) || fail "show with a malformed shard failed: $out"
expect_contains "$out" "last use in etcd left out: host host-c" "show's warning"
expect_contains "$out" "alice" "show still shows the client"
# Only host-c is left out: the other hosts' last use is still shown.
expect_contains "$out" "(host-b)" "show keeps host-b's day"
json=$(admin list --json 2>"$WORK/err") || fail "list --json with a malformed shard: $(cat "$WORK/err")"
expect_contains "$(cat "$WORK/err")" "last use in etcd left out: host host-c" "list --json's warning"
alice_used=$(echo "$json" | python3 -c 'import json,sys; print([c.get("last_used") for c in json.load(sys.stdin) if c["id"] == "alice"][0])')
expect_eq "$alice_used" "$(($(date +%s) / 86400 * 86400))" "list --json keeps the other hosts' last use (alice's)"
# host-c left out may be stale: stale_hosts unknown (null), never "[]" (none stale).
stale=$(echo "$json" | python3 -c 'import json,sys; print(json.dumps([c["stale_hosts"] for c in json.load(sys.stdin) if c["id"] == "alice"][0]))')
expect_eq "$stale" "null" "list --json's stale_hosts with a host left out"
stale=$(admin show alice --json 2>/dev/null | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["stale_hosts"]))')
expect_eq "$stale" "null" "show --json's stale_hosts with a host left out"
start_console --registry "$ADMIN" --etcd "$ETCD"
console_login
answer=$(api GET '/api/v1/clients?q=alice')
expect_contains "$answer" "last use in etcd left out: host host-c" "the console's last_use_errors"
expect_contains "$answer" "\"last_used\":$(date -u -d "$TODAY" +%s)" "the console keeps the other hosts' last use"
expect_contains "$answer" '"stale_hosts":null' "the console's stale_hosts with a host left out"
expect_contains "$(api GET '/api/v1/clients?unused=1d')" "400 {\"error\":\"unused needs every host's last use: host host-c" "the console's unused="
stop_console
etcdctl --endpoints "$ETCD" put "/keyauth-usage/$FLEET_ID/bad host/0" x >/dev/null
etcdctl --endpoints "$ETCD" del "/keyauth-usage/$FLEET_ID/host-c/0" >/dev/null
out=$(admin list --unused 1d 2>&1) && fail "list --unused with a malformed key succeeded: $out"
expect_contains "$out" "is no <host>/<shard>" "a key that names no host"
etcdctl --endpoints "$ETCD" del "/keyauth-usage/$FLEET_ID/bad host/0" >/dev/null
expect_eq "$(unused_in_fleet)" "" "readable again"
pass "a malformed shard or key: keytool --etcd list --unused and the console's unused= fail, naming it; show, list --json and the console leave that host out and show the rest, stale_hosts null"

# No host publishing: list --unused refuses rather than call every client unused.
stop_host 1
stop_host 2
# Shards and markers (/keyauth-usage-hosts/): a host with a marker publishes.
etcdctl --endpoints "$ETCD" del --prefix /keyauth-usage >/dev/null
out=$(admin list --unused 1d 2>&1) && fail "list --unused with nothing published succeeded: $out"
expect_contains "$out" "no host of the fleet publishes it" "the refusal"
pass "keytool --etcd list --unused with no host publishing: refused"
