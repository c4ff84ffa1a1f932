# An administrator's etcd role granted as docs/FLEET.md said before publish
# markers (read on /keyauth-usage/ only) is denied the markers under
# /keyauth-usage-hosts/. keytool --etcd list --unused, show and serve still
# give the hosts' last use, say once how to grant the markers, and name no
# host stale: --json and the console give stale_hosts null (unknown), never
# [] (none stale), which a script could take for a clean answer.
source "$FLEET_LIB"
source "$(dirname "$FLEET_LIB")/../console/console_lib.sh"
start_fleet alice bob carol
TODAY=$(date -u +%F)

# host-a saw alice today (version 1, one entry: "alice", today); its marker
# is a day old: stale, for a reader allowed to see it.
day=$(($(date +%s) / 86400))
shard=$(python3 -c 'import base64,sys
d=int(sys.argv[1]); v=bytearray()
while d >= 0x80: v.append(d & 0x7f | 0x80); d >>= 7
v.append(d)
print(base64.b64encode(b"\x01\x01\x00\x05alice" + bytes(v)).decode())' "$day")
curl -sf "${ETCD%%,*}/v3/kv/put" -d "{\"key\":\"$(printf %s "/keyauth-usage/$FLEET_ID/host-a/0" | base64 -w0)\",
    \"value\":\"$shard\"}" >/dev/null || fail "host-a's shard"
etcdctl --endpoints "$ETCD" put "/keyauth-usage-hosts/$FLEET_ID/host-a" \
    "v1 published_at=$(($(date +%s) - 86400)) interval=60" >/dev/null

ctl() { etcdctl --endpoints "$ETCD" "$@"; }
ctl user add root --new-user-password=root-secret >/dev/null
# The administrator's grants as the docs gave them before markers.
ctl role add keyauth-admin >/dev/null
ctl role grant-permission keyauth-admin --prefix=true readwrite /keyauth/ >/dev/null
ctl role grant-permission keyauth-admin --prefix=true read /keyauth-usage/ >/dev/null
ctl user add keyauth-admin --new-user-password=admin-secret >/dev/null
ctl user grant-role keyauth-admin keyauth-admin >/dev/null
wait_until 10 "auth enabled" ctl auth enable
echo admin-secret >admin-password && chmod 600 admin-password
admin() { keytool --registry "$ADMIN" --etcd "$ETCD" --etcd-user keyauth-admin --etcd-password-file admin-password "$@"; }
unused_ids() { python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(sys.stdin)))'; }
WARNING="may not read the hosts' publish markers (/keyauth-usage-hosts/$FLEET_ID/)"

admin list --unused 1d >"$WORK/out" 2>"$WORK/err" || fail "list --unused: $(cat "$WORK/err")"
expect_not_contains "$(cat "$WORK/out")" alice "list --unused (alice used on host-a)"
expect_contains "$(cat "$WORK/err")" "$WARNING" "the warning"
expect_contains "$(cat "$WORK/err")" "grant the role read on /keyauth-usage-hosts/" "the fix"
expect_contains "$(cat "$WORK/err")" "no host is named stale" "what it means"
expect_eq "$(grep -c . "$WORK/err")" 1 "stderr's lines (one warning, no host named)"
admin list --unused 1d --json >"$WORK/out" 2>/dev/null || fail "list --unused --json"
expect_eq "$(unused_ids <"$WORK/out")" "bob carol" "the unused clients"
expect_contains "$(cat "$WORK/out")" '"stale_hosts":null' "--json's stale_hosts (unknown, not none)"
expect_not_contains "$(cat "$WORK/out")" '"stale_hosts":[]' "--json's stale_hosts"
pass "list --unused: answers, warns once how to grant the markers, names no host stale"

admin show alice >"$WORK/out" 2>"$WORK/err" || fail "show alice: $(cat "$WORK/err")"
expect_contains "$(cat "$WORK/out")" "LAST USED BY HOST   $TODAY (host-a)" "show alice"
expect_not_contains "$(cat "$WORK/out")" "STALE HOSTS" "show alice"
expect_contains "$(cat "$WORK/err")" "$WARNING" "show's warning"
expect_contains "$(admin show alice --json 2>/dev/null)" '"stale_hosts":null' "show --json's stale_hosts"
pass "show: the hosts' last use kept, the warning said"

start_console --registry "$ADMIN" --etcd "$ETCD" --etcd-user keyauth-admin \
    --etcd-password-file admin-password
console_login
answer=$(api GET '/api/v1/clients?unused=1d')
expect_contains "$answer" '"total":2,' "unused=1d's total"
expect_contains "$answer" "$WARNING" "last_use_errors"
expect_contains "$answer" '"stale_hosts":null' "stale_hosts (unknown, not none)"
stop_console
pass "keytool serve: last use kept, the warning in last_use_errors, no host stale"
