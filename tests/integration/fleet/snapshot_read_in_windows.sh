# A snapshot is read page by page in windows of keys sharing a prefix (etcd
# 3.4 counts every key to a range's end for each page: docs/FLEET.md). The
# windows narrow and widen with how many keys etcd counts in them; whatever
# they do, a load, a rebuild and a digest check hold every key of the
# prefix once. Here pages of 7 over ids of many lengths and prefixes (dense
# runs, sparse ones, one id a prefix of others), so that every window is
# narrowed, widened, exhausted and left empty at least once.
source "$FLEET_LIB"
export KEYAUTH_ETCD_READ_PAGE=7
start_etcd_cluster
admin init >/dev/null
admin_gen_bulk a 400                  # a0000 ... a0399: dense, one byte after another
admin_gen a a0 a03 a039 a0399x zz z   # ids that are prefixes of others, and after them all
bulk() { python3 "$(dirname "$FLEET_LIB")/bulk_clients.py" "${ETCD%%,*}" template "$1" "$2" "$WORK/tokens" ||
    fail "bulk registration"; }
bulk b-long-prefix-of-many-bytes- 120  # few windows, long keys
bulk c 3                               # a sparse run between two dense ones
bulk d_ 250
expected=$(etcd_ids)
expect_eq "$(echo "$expected" | wc -l)" 781 "clients in etcd"

start_host 1
wait_until 60 "host 1 loaded" grep -q 'loaded 781 clients' "$WORK/sync1.log"
ids_on_host() {
    keytool --registry "$(host_dir 1)" list --json | grep -o '"id":"[^"]*"' | cut -d'"' -f4 | sort
}
expect_eq "$(ids_on_host)" "$expected" "ids on host 1 after the load"
out=$(host_digest_equal 1) || fail "host 1 differs from etcd: $out"
pass "a load in pages of 7: every one of 781 clients, once ($out)"

admin del a0200 >/dev/null
admin_gen a0200b
kill -USR1 "${SYNC_PID[1]}"
wait_until 60 "host 1 rebuilt" grep -q 'rebuilt the registry' "$WORK/sync1.log"
expected=$(etcd_ids)
wait_until 20 "host 1 equal to etcd" test "$(ids_on_host)" == "$expected"
out=$(host_digest_equal 1) || fail "host 1 differs from etcd after the rebuild: $out"
wait_on_host 1 refused "$WORK/tokens/a0200_token"
wait_on_host 1 valid a0200b_token
pass "a rebuild in pages of 7 after a del and a gen: equal to etcd ($out)"
