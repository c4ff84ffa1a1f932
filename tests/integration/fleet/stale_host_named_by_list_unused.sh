# A host whose keyauth-sync stopped publishing is not a host whose clients
# went unused: each pass puts a marker (/keyauth-usage-hosts/<fleet id>/<host>:
# when, and every how long); a host whose marker is older than 2 intervals
# and a minute is stale. list --unused still answers, names the stale hosts
# on stderr and in --json's stale_hosts; show marks their days "as of". A
# hostile marker fails --unused naming its host, or is warned about.
source "$FLEET_LIB"
source "$(dirname "$FLEET_LIB")/../console/console_lib.sh"
start_fleet alice bob carol
MARKERS=/keyauth-usage-hosts/$FLEET_ID

for host in a b; do
    mkdir "$WORK/usage-$host"
    chown mosquitto: "$WORK/usage-$host"
    chmod 700 "$WORK/usage-$host"
done
for i in 1 2; do
    host=$([ "$i" == 1 ] && echo a || echo b)
    start_host "$i" --publish-last-use "$WORK/usage-$host/last-use" \
        --publish-last-use-interval 1 --host-name "host-$host"
    start_broker "$i" "plugin_opt_last_use $WORK/usage-$host/last-use" \
        "plugin_opt_last_use_interval 1"
done
# alice on both, bob on host-b's broker only, carol nowhere.
publish 1 ./alice_token "from a" >/dev/null || fail "alice on host 1"
publish 2 ./alice_token "from b" >/dev/null || fail "alice on host 2"
publish 2 ./bob_token "from b" >/dev/null || fail "bob on host 2"

unused_ids() { python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(sys.stdin)))'; }
stale_hosts_of_each() {
    python3 -c 'import json,sys; print(" ".join(sorted({",".join(h["host"] for h in c["stale_hosts"]) for c in json.load(sys.stdin)})))'
}
only_carol_unused() { [ "$(admin list --unused 1d --json 2>/dev/null | unused_ids)" == carol ]; }
wait_until 15 "both hosts' uses published" only_carol_unused
marker=$(etcdctl --endpoints "$ETCD" get "$MARKERS/host-a" --print-value-only)
[[ "$marker" =~ ^v1\ published_at=[0-9]+\ interval=1$ ]] || fail "host-a's marker: $marker"
marker_moves() { [ "$(etcdctl --endpoints "$ETCD" get "$MARKERS/host-a" --print-value-only)" != "$marker" ]; }
wait_until 5 "host-a's marker put again with nothing new to publish" marker_moves
admin list --unused 1d >"$WORK/out" 2>"$WORK/err" || fail "list --unused: $(cat "$WORK/err")"
expect_eq "$(cat "$WORK/err")" "" "list --unused's stderr with every host fresh"
expect_eq "$(admin list --unused 1d --json 2>/dev/null | stale_hosts_of_each)" "" "--json's stale_hosts"
pass "each host puts its marker every pass, shards changed or not; fresh hosts are named nowhere"

# host-b's keyauth-sync stops (crashed, host down): its shard stays in etcd.
stop_host 2
stopped_at=$(date +%s)

# Meanwhile, hostile markers for a host-c: a bad version or garbage fails
# --unused naming the host (its uses cannot be judged), show warns.
for value in "v2 published_at=1 interval=1" "garbage" "v1 published_at=1 interval=0"; do
    etcdctl --endpoints "$ETCD" put "$MARKERS/host-c" "$value" >/dev/null
    out=$(admin list --unused 1d 2>&1) && fail "list --unused with marker '$value' succeeded: $out"
    expect_contains "$out" "host host-c: etcd key $MARKERS/host-c: publish marker refused" "'$value'"
    out=$(admin show alice 2>&1) || fail "show with marker '$value' failed: $out"
    expect_contains "$out" "last use in etcd left out: host host-c" "show's warning for '$value'"
done
etcdctl --endpoints "$ETCD" put "$MARKERS/bad host" "v1 published_at=1 interval=1" >/dev/null
out=$(admin list --unused 1d 2>&1) && fail "list --unused with a marker naming no host succeeded"
expect_contains "$out" "is no <host>" "a marker key that names no host"
etcdctl --endpoints "$ETCD" del "$MARKERS/bad host" >/dev/null
# A marker from the future (a clock ahead, or forged to look fresh forever): not believed.
etcdctl --endpoints "$ETCD" put "$MARKERS/host-c" \
    "v1 published_at=$(($(date +%s) + 86400)) interval=1" >/dev/null
admin list --unused 1d >"$WORK/out" 2>"$WORK/err" || fail "list --unused, future marker: $(cat "$WORK/err")"
expect_contains "$(cat "$WORK/err")" "host-c: marker dated" "the warning"
expect_contains "$(cat "$WORK/err")" "ahead of this clock" "the warning"
etcdctl --endpoints "$ETCD" del "$MARKERS/host-c" >/dev/null
pass "a hostile marker: bad version or garbage fails --unused naming the host; one from the future is warned about"

# Shards without a marker: published by a keyauth-sync older than markers.
# (alice, used on 1970-01-02: version 1, one entry, "alice", day 1; put
# through etcd's gateway, as etcdctl's arguments cannot carry its NUL.)
curl -sf "${ETCD%%,*}/v3/kv/put" -d "{\"key\":\"$(printf %s "/keyauth-usage/$FLEET_ID/host-d/0" | base64 -w0)\",
    \"value\":\"$(printf '\001\001\000\005alice\001' | base64 -w0)\"}" >/dev/null || fail "host-d's shard"
admin list --unused 1d >"$WORK/out" 2>"$WORK/err" || fail "list --unused, host-d: $(cat "$WORK/err")"
expect_contains "$(cat "$WORK/err")" "host-d: publishes no marker" "an older host named"
expect_contains "$(admin list --unused 1d --json 2>/dev/null)" '"stale_hosts":[{"host":"host-d","published_at":null}]' "--json"
# Its shards deleted (it has no marker to delete): it disappears.
etcdctl --endpoints "$ETCD" del --prefix "/keyauth-usage/$FLEET_ID/host-d/" >/dev/null
admin list --unused 1d >"$WORK/out" 2>"$WORK/err" || fail "list --unused: $(cat "$WORK/err")"
expect_not_contains "$(cat "$WORK/err")" "host-d" "stderr once host-d's shards are gone"
pass "shards without a marker: named as published by an older keyauth-sync; gone with its shards"

# host-b stale: 2 intervals and a minute after its last publish.
until [ "$(date +%s)" -ge $((stopped_at + 60)) ]; do sleep 1; done
host_b_stale() { admin list --unused 1d 2>&1 >/dev/null | grep -q 'host-b: last published'; }
wait_until 15 "host-b named stale" host_b_stale
[ $(($(date +%s) - stopped_at)) -ge 62 ] || fail "host-b named stale too early"
admin list --unused 1d >"$WORK/out" 2>"$WORK/err" || fail "list --unused with host-b stale failed"
expect_contains "$(cat "$WORK/err")" "last use may be out of date on 1 host" "the warning"
expect_contains "$(cat "$WORK/err")" "may be listed as unused" "what it means for the answer"
expect_contains "$(cat "$WORK/err")" "host-b: last published 1 min" "how long ago"
expect_not_contains "$(cat "$WORK/err")" "host-a" "the fresh host"
expect_contains "$(grep carol "$WORK/out")" "never" "the answer, still given"
published_at=$(etcdctl --endpoints "$ETCD" get "$MARKERS/host-b" --print-value-only |
    sed -E 's/^v1 published_at=([0-9]+) .*/\1/')
expect_eq "$(admin list --unused 1d --json 2>/dev/null | stale_hosts_of_each)" host-b "--json's stale_hosts"
expect_contains "$(admin list --unused 1d --json 2>/dev/null)" \
    "\"stale_hosts\":[{\"host\":\"host-b\",\"published_at\":$published_at}]" "--json's published_at"
expect_eq "$(admin list --unused 1d --json 2>/dev/null | unused_ids)" carol "bob still used (host-b's shard kept)"
pass "a host whose publisher stopped: stale after 2 intervals and a minute, named by list --unused (stderr, --json)"

as_of="stale: as of $(date -u -d "@$published_at" '+%Y-%m-%d %H:%M:%S +0000 UTC')"
expect_contains "$(admin show bob)" "(host-b, $as_of)" "show bob"
expect_contains "$(admin show alice)" "(host-a), " "show alice: host-a fresh"
expect_contains "$(admin show carol)" "STALE HOSTS         host-b ($as_of)" "show carol"
expect_contains "$(admin show carol --json)" "\"stale_hosts\":[{\"host\":\"host-b\",\"published_at\":$published_at}]" "show --json"
start_console --registry "$ADMIN" --etcd "$ETCD"
console_login
expect_contains "$(api GET '/api/v1/clients?unused=1d')" \
    "\"stale_hosts\":[{\"host\":\"host-b\",\"published_at\":$published_at}]" "the console's API"
stop_console
install_puppeteer
start_console --registry "$ADMIN" --etcd "$ETCD"
run_in_chromium "$(dirname "$FLEET_LIB")/../console/browser_stale_hosts.cjs" "$LOGIN_LINK" "$WORK" \
    host-b "$(date -u -d "@$published_at" '+%Y-%m-%d %H:%M UTC')"
stop_console
pass "show, the console's API and its page mark host-b's last use as of its last publish"

# host-b retired: its shards and marker deleted together, it disappears.
etcdctl --endpoints "$ETCD" del --prefix "/keyauth-usage/$FLEET_ID/host-b/" >/dev/null
etcdctl --endpoints "$ETCD" del "$MARKERS/host-b" >/dev/null
admin list --unused 1d >"$WORK/out" 2>"$WORK/err" || fail "list --unused: $(cat "$WORK/err")"
expect_eq "$(cat "$WORK/err")" "" "stderr once host-b is gone"
expect_not_contains "$(admin show bob)" "host-b" "show bob"
pass "a host's shards and marker deleted together: it disappears cleanly"
