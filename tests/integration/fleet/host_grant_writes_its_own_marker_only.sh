# A host's etcd user as docs/FLEET.md grants it (read /keyauth/, readwrite its
# own shard prefix and its own marker key, that key alone) publishes its
# shards and its marker; it cannot write another host's marker, nor one whose
# name starts with its own (a prefix grant would allow host-a2).
source "$FLEET_LIB"
start_fleet alice

ctl() { etcdctl --endpoints "$ETCD" "$@"; }
ctl user add root --new-user-password=root-secret >/dev/null
ctl role add keyauth-admin >/dev/null
ctl role grant-permission keyauth-admin --prefix=true readwrite /keyauth/ >/dev/null
ctl role grant-permission keyauth-admin --prefix=true read /keyauth-usage/ >/dev/null
ctl role grant-permission keyauth-admin --prefix=true read /keyauth-usage-hosts/ >/dev/null
ctl user add keyauth-admin --new-user-password=admin-secret >/dev/null
ctl user grant-role keyauth-admin keyauth-admin >/dev/null
# The host's grants, word for word as docs/FLEET.md gives them.
ctl role add keyauth-host-a >/dev/null
ctl role grant-permission keyauth-host-a --prefix=true read /keyauth/ >/dev/null
ctl role grant-permission keyauth-host-a --prefix=true readwrite "/keyauth-usage/$FLEET_ID/host-a/" >/dev/null
ctl role grant-permission keyauth-host-a readwrite "/keyauth-usage-hosts/$FLEET_ID/host-a" >/dev/null
ctl user add host-a --new-user-password=host-secret >/dev/null
ctl user grant-role host-a keyauth-host-a >/dev/null
wait_until 10 "auth enabled" ctl auth enable
echo admin-secret >admin-password && chmod 600 admin-password
echo host-secret >host-password && chmod 600 host-password
admin() { keytool --registry "$ADMIN" --etcd "$ETCD" --etcd-user keyauth-admin --etcd-password-file admin-password "$@"; }

mkdir "$WORK/usage-a"
chown mosquitto: "$WORK/usage-a"
chmod 700 "$WORK/usage-a"
start_host 1 --etcd-user host-a --etcd-password-file "$WORK/host-password" \
    --publish-last-use "$WORK/usage-a/last-use" --publish-last-use-interval 1 --host-name host-a
start_broker 1 "plugin_opt_last_use $WORK/usage-a/last-use" "plugin_opt_last_use_interval 1"
publish 1 ./alice_token "from a" >/dev/null || fail "alice on host 1"
alice_used() { [ "$(admin list --unused 1d --json 2>/dev/null)" == "[]" ]; }
wait_until 15 "host-a's shard published under its grant" alice_used
as_root() { ctl --user root:root-secret "$@"; }
[[ "$(as_root get "/keyauth-usage-hosts/$FLEET_ID/host-a" --print-value-only)" =~ ^v1\ published_at= ]] ||
    fail "host-a's marker not published under its grant"
admin list --unused 1d >/dev/null 2>"$WORK/err" || fail "list --unused: $(cat "$WORK/err")"
expect_eq "$(cat "$WORK/err")" "" "list --unused's stderr (host-a fresh)"
# (Not published before the broker writes its file: that is said, not a refusal.)
expect_not_contains "$(cat "$WORK/sync1.log")" "permission denied" "host-a's log"
pass "a host's user, granted as docs/FLEET.md says, publishes its shards and its marker"

as_host_a() { ctl --user host-a:host-secret "$@"; }
for key in "/keyauth-usage-hosts/$FLEET_ID/host-b" "/keyauth-usage-hosts/$FLEET_ID/host-a2" \
    "/keyauth-usage/$FLEET_ID/host-b/0"; do
    out=$(as_host_a put "$key" "v1 published_at=1 interval=1" 2>&1) && fail "host-a wrote $key"
    expect_contains "$out" "permission denied" "host-a writing $key"
done
pass "a host's user cannot write another host's marker or shards, nor a marker its name prefixes"
