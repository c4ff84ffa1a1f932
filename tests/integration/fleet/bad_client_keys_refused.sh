# Keys under /keyauth/clients/ no registry can hold (the empty id, an id
# of a newline and a terminal escape) and a corrupt record are refused, as
# said in the log with the key escaped: keyauth-sync goes on, and a del made
# after them reaches the host. A host loading from etcd with them present
# loads the rest; the digest check skips what the hosts refuse (no rebuild);
# keytool --etcd list lists the rest and says how many it left out.
source "$FLEET_LIB"
start_one_host_fleet 1 alice bob carol

evil=$'/keyauth/clients/ev\nil\e[2J'
etcdctl --endpoints "$ETCD" put /keyauth/clients/ garbage >/dev/null
etcdctl --endpoints "$ETCD" put "$evil" garbage >/dev/null
etcdctl --endpoints "$ETCD" put /keyauth/clients/carol garbage >/dev/null
etcdctl --endpoints "$ETCD" del /keyauth/clients/ >/dev/null
etcdctl --endpoints "$ETCD" put /keyauth/clients/ again >/dev/null
del_bob_reaches_host_1 "the bad keys"
group_refuses 1 carol_token || fail "carol (corrupt in etcd) still admitted on host 1"
log=$(cat "$WORK/sync1.log")
expect_contains "$log" "etcd record /keyauth/clients/ refused: etcd holds a bad client id (client id is empty)" \
    "host 1's log"
expect_contains "$log" 'etcd record /keyauth/clients/ev\x0ail\x1b[2J refused: etcd holds a bad client id' \
    "host 1's log"
expect_contains "$log" "etcd record /keyauth/clients/carol refused: etcd record of carol is corrupt" \
    "host 1's log"
grep -q $'\e' "$WORK/sync1.log" && fail "a raw escape byte in host 1's log"
pass "bad keys refused and said escaped; keyauth-sync up; bob's del applied after them; carol erased"

# The digest check compares what a host holds (no rebuild); asked directly too.
out=$(host_digest_equal 1) || fail "host 1 differs from etcd: $out"
sleep 3
grep -q "digest mismatch" "$WORK/sync1.log" && fail "the digest check rebuilt: $(grep "digest mismatch" "$WORK/sync1.log")"
pass "digest equal with the refused keys in etcd ($out), no digest mismatch in 3 s of 1 s checks"

# A new host loads the rest.
start_host 2
wait_until 10 "host 2 loaded" grep -q "loaded 1 clients" "$WORK/sync2.log"
log=$(cat "$WORK/sync2.log")
expect_contains "$log" "etcd record /keyauth/clients/ refused: etcd holds a bad client id" "host 2's log"
expect_contains "$log" 'etcd record /keyauth/clients/ev\x0ail\x1b[2J refused' "host 2's log"
expect_contains "$log" "etcd record /keyauth/clients/carol refused: etcd record of carol is corrupt" \
    "host 2's log"
group_verify 2 alice_token || fail "alice refused on host 2"
group_refuses 2 bob_token || fail "bob admitted on host 2"
out=$(host_digest_equal 2) || fail "host 2 differs from etcd: $out"
pass "a first load with the bad keys in etcd loaded alice alone, refusing them ($out)"

# The administrator's listing: the rest, and a word on stderr.
admin list >"$WORK/list.out" 2>"$WORK/list.err" || fail "keytool --etcd list: $(cat "$WORK/list.err")"
grep -q "alice" "$WORK/list.out" || fail "alice not listed: $(cat "$WORK/list.out")"
expect_contains "$(cat "$WORK/list.err")" "3 etcd record(s) refused and left out" "keytool --etcd list's stderr"
grep -q $'\e' "$WORK/list.err" && fail "a raw escape byte in keytool's stderr"
pass "keytool --etcd list: alice listed, 3 refused records said on stderr"
