# etcd wiped under running hosts (an accident, not an intent): no host
# empties itself. Each refuses the rebuild that would drop every client,
# keeps serving its last state and says HELD; the fleet's store of record is
# then restored from a host's copy, and the hosts carry on by themselves.
# Host 2's registry is a link to a volume (FLEET.md): the restore goes
# through it to the directory whose lock the service takes.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
mkdir -p "$WORK/volume"
install -d -m 2750 -g mosquitto "$WORK/volume/keyauth"
ln -s "$WORK/volume/keyauth" "$(host_dir 2)"
for i in 1 2; do start_host "$i"; done
start_nginx 1
admin_gen alice bob
for i in 1 2; do wait_on_host "$i" valid ./bob_token; done

for m in 1 2 3; do stop_member "$m"; rm -rf "$WORK/etcd$m"; done
for m in 1 2 3; do start_member "$m"; done
wait_until 20 "the empty cluster healthy" etcdctl --endpoints "$ETCD" endpoint health
for i in 1 2; do wait_until 15 "host $i held" grep -q "HELD: .*would remove 2 of the 2" "$WORK/sync$i.log"; done
sleep 2
expect_eq "$(http_status 1 ./alice_token)" "200" "nginx on host 1 with alice, etcd empty"
host_verify 2 ./bob_token || fail "host 2 dropped bob"
for i in 1 2; do status_says_held "$i"; done
pass "etcd emptied: both hosts keep serving alice and bob and say HELD"

out=$(admin gen carol --output ./carol 2>&1) && fail "gen on an etcd without a fleet succeeded"
expect_contains "$out" "keytool --etcd ENDPOINTS init" "gen before init"
pass "gen on the empty etcd refused: it names init"

stop_host 2
out=$("$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$(host_dir 2)" --restore-etcd 2>&1) ||
    fail "--restore-etcd: $out"
expect_contains "$out" "restored 2 clients" "keyauth-sync --restore-etcd"
expect_eq "$(etcd_ids)" "$(printf 'alice\nbob')" "clients in the restored etcd"
start_host 2
for i in 1 2; do
    wait_until 20 "host $i no longer held" grep -q "no longer held" "$WORK/sync$i.log"
    wait_until 10 "host $i equal to etcd" host_digest_equal "$i"
    expect_contains "$(keytool --registry "$(host_dir "$i")" status)" "state:         current" "host $i"
done
admin_gen carol
admin del alice >/dev/null
wait_on_host 1 valid ./carol_token
wait_on_host 1 refused ./alice_token
wait_for_status 1 ./alice_token 401
pass "etcd restored from host 2's copy: both hosts current again, gen and del work"
