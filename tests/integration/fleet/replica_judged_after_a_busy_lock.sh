# keytool judges a replica before it changes it, even when the registry was
# busy as it first looked: a del whose first opening gave up on writer.lock
# (held 5 s by another writer) and whose change then opened it a moment
# later is refused as a replica's, never applied on this host alone.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
start_host 1
admin_gen alice
wait_on_host 1 valid ./alice_token

# Another writer holds writer.lock 5.5 s: keytool's first opening waits its
# 5 s and gives up, the change's opening gets it half a second later.
hold_writer_lock "$(host_dir 1)" 5.5
out=$(keytool --registry "$(host_dir 1)" del alice 2>&1) && fail "del on a replica succeeded after a busy lock: $out"
wait "$WRITER_LOCK_HOLDER" || true
expect_contains "$out" "replica kept by keyauth-sync" "del on the replica after a busy lock"
host_verify 1 ./alice_token || fail "the refused del deleted alice on host 1"
pass "a del on the replica, its first look given up on a busy lock, refused as a replica's: $out"
