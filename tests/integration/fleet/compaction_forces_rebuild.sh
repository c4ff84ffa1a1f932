# Host 1's keyauth-sync stopped while etcd moves on and compacts its history:
# restarted, it cannot watch from where it was, so it rebuilds the registry
# beside the old one and swaps it in; the running broker and nginx pick it up.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
start_host 1
start_broker 1
start_nginx 1
admin_gen alice bob
wait_on_host 1 valid ./bob_token
subscribe 1 alice:live ./alice_token
old_inode=$(stat -c %i "$(host_dir 1)/data.mdb")

stop_host 1
admin del alice >/dev/null
admin_gen carol
etcdctl --endpoints "$ETCD" compact "$(etcd_revision)" >/dev/null
start_host 1
wait_until 10 "the rebuild" grep -q "rebuilt the registry" "$WORK/sync1.log"
expect_contains "$(cat "$WORK/sync1.log")" "compacted past revision" "sync log"
[ "$(stat -c %i "$(host_dir 1)/data.mdb")" != "$old_inode" ] || fail "data.mdb was not replaced"
pass "compacted past its revision: host 1 rebuilt its registry"

expect_eq "$(stat -c '%a %U %G' "$(host_dir 1)")" "2750 root mosquitto" "the registry directory"
expect_eq "$(stat -c '%a %G' "$(host_dir 1)/data.mdb")" "640 mosquitto" "data.mdb"
expect_eq "$(stat -c '%a %G' "$(host_dir 1)/commit.seq")" "640 mosquitto" "commit.seq"
expect_mode "$(host_dir 1)/writer.lock" 600
cmp -s "$ADMIN/ca_cert.pem" "$(host_dir 1)/ca_cert.pem" || fail "CA certificate lost in the rebuild"
leftovers=$(compgen -G "$(host_dir 1).rebuild*") && fail "the old registry was left behind: $leftovers"
pass "the new registry has the old one's modes, group and certificate"

wait_until 5 "alice's live session dropped" grep -q "disconnecting MQTT client 'alice:live' of 'alice'" "$WORK/broker1.log"
out=$(publish 1 ./carol_token "after the rebuild") || fail "the broker refused carol: $out"
expect_eq "$(http_status 1 ./alice_token)" "401" "nginx with alice after the rebuild"
expect_eq "$(http_status 1 ./carol_token)" "200" "nginx with carol after the rebuild"
host_digest_equal 1 >/dev/null || fail "host 1 differs from etcd"
pass "the running broker and nginx read the rebuilt registry: alice dropped and refused, carol accepted"
