# A replica has one writer, keyauth-sync: a second keyauth-sync on the same
# registry is refused at once, and keytool gen and del there are refused,
# naming --etcd (del --force is the local emergency brake, undone by the
# next digest check).
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
start_host 1
admin_gen alice
wait_on_host 1 valid ./alice_token

out=$(timeout 10 "$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$(host_dir 1)" 2>&1) &&
    fail "a second keyauth-sync ran: $out"
expect_contains "$out" "another keyauth-sync (pid ${SYNC_PID[1]})" "second keyauth-sync"
pass "a second keyauth-sync on host 1's registry refused: $out"

out=$(keytool --registry "$(host_dir 1)" del alice 2>&1) && fail "del on a replica succeeded"
expect_contains "$out" "replica kept by keyauth-sync" "del on the replica"
expect_contains "$out" "keytool --etcd" "del on the replica"
host_verify 1 ./alice_token || fail "the refused del deleted alice"
out=$(keytool --registry "$(host_dir 1)" gen bob --output ./bob 2>&1) && fail "gen on a replica succeeded"
expect_contains "$out" "keytool --etcd" "gen on the replica"
[ ! -e ./bob_token ] || fail "the refused gen left a token"
pass "keytool gen and del on the replica refused, naming --etcd"

expect_eq "$(keytool --registry "$(host_dir 1)" del alice --force)" "deleted" "del --force on the replica"
host_refuses 1 ./alice_token || fail "del --force did not delete locally"
pass "del --force deletes on this host alone"
