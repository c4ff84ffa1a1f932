# Records copied in etcd to a second key carry another client's certificate:
# a certificate admits one client, the first in id order of those whose
# records hold it, the same on every host whatever order it saw the changes
# in. carol (after alice) is refused; adam (before zed) takes zed's
# certificate and zed is refused. keyauth-sync goes on, a del made after
# them reaches the host, a new host loads the same clients (the registry it
# fills in id order judging, by its certificate index, also across the
# load's commits), the digest check agrees, and when adam goes zed comes
# back (the next digest check).
source "$FLEET_LIB"
start_one_host_fleet 2 alice bob zed

host_ids() { keytool --registry "$(host_dir "$1")" list --json | grep -o '"id": *"[^"]*"' | tr -d ' ' | sort | tr '\n' ' '; }

# copy FROM TO: FROM's etcd value put at TO's key, as etcd holds it.
copy() {
    python3 - "${ETCD%%,*}" "$1" "$2" <<'PY'
import base64, json, sys, urllib.request
ep, source, target = sys.argv[1:]
def call(path, body):
    r = urllib.request.Request(ep + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(r, timeout=10))
key = lambda id: base64.b64encode(("/keyauth/clients/" + id).encode()).decode()
value = call("/v3/kv/range", {"key": key(source)})["kvs"][0]["value"]
call("/v3/kv/put", {"key": key(target), "value": value})
PY
}
copy alice carol
copy zed adam
del_bob_reaches_host_1 "the copies"
group_refuses 1 zed_token || fail "zed (its certificate adam's, earlier in id order) admitted on host 1"
expect_eq "$(host_ids 1)" '"id":"adam" "id":"alice" ' "host 1's clients"
log=$(cat "$WORK/sync1.log")
expect_contains "$log" "etcd record /keyauth/clients/carol refused: its certificate is alice's, earlier in id order" \
    "host 1's log"
expect_contains "$log" "etcd record /keyauth/clients/zed refused: its certificate is adam's too, earlier in id order" \
    "host 1's log"
pass "carol refused, zed refused for adam; keyauth-sync up; bob's del applied after them"

out=$(host_digest_equal 1) || fail "host 1 differs from etcd: $out"
pass "digest equal ($out)"

# A new host loads the same clients, refusing the same records.
start_host 2
wait_until 10 "host 2 loaded" grep -q "loaded 2 clients" "$WORK/sync2.log"
expect_eq "$(host_ids 2)" "$(host_ids 1)" "host 2's clients (host 1's)"
log=$(cat "$WORK/sync2.log")
# Named by the index of the registry being filled, as the watcher names it.
expect_contains "$log" "etcd record /keyauth/clients/carol refused: its certificate is alice's, earlier in id order" \
    "host 2's log"
expect_contains "$log" "etcd record /keyauth/clients/zed refused: its certificate is adam's, earlier in id order" \
    "host 2's log"
group_refuses 2 zed_token || fail "zed admitted on host 2"
group_verify 2 alice_token || fail "alice refused on host 2"
out=$(host_digest_equal 2) || fail "host 2 differs from etcd: $out"
pass "a first load refused carol and zed too: $(host_ids 2)($out)"

admin list >"$WORK/list.out" 2>"$WORK/list.err" || fail "keytool --etcd list: $(cat "$WORK/list.err")"
expect_contains "$(cat "$WORK/list.err")" "2 etcd record(s) refused and left out" "keytool --etcd list's stderr"
grep -qw zed "$WORK/list.out" && fail "zed listed: $(cat "$WORK/list.out")"
grep -qw alice "$WORK/list.out" || fail "alice not listed: $(cat "$WORK/list.out")"
pass "keytool --etcd list: as the hosts hold, 2 refused records said on stderr"

# adam deleted: zed is the first (the only one) holding its certificate
# again; host 1 took it for absent meanwhile, the next digest check repairs it.
admin del adam >/dev/null
wait_until 20 "zed admitted again on host 1" group_verify 1 zed_token
kill -0 "${SYNC_PID[1]}" 2>/dev/null || fail "keyauth-sync died: $(tail -n 5 "$WORK/sync1.log")"
out=$(host_digest_equal 1) || fail "host 1 differs from etcd: $out"
pass "adam deleted: zed admitted again on host 1 ($out)"

# A load commits every 16 384 clients: c0000 claims its certificate in the
# first transaction, its copy d0000 comes in the second and is refused
# there; with its token, d0000 would verify if it were admitted.
admin_gen_bulk c 16384
sed 's/^c0000:/d0000:/' "$WORK/tokens/c0000_token" >"$WORK/tokens/d0000_token"
copy c0000 d0000
start_host 3
wait_until 60 "host 3 loaded" grep -q "loaded 16387 clients" "$WORK/sync3.log"
expect_contains "$(cat "$WORK/sync3.log")" \
    "etcd record /keyauth/clients/d0000 refused: its certificate is c0000's, earlier in id order" \
    "host 3's log"
group_verify 3 "$WORK/tokens/c0000_token" || fail "c0000 refused on host 3"
group_refuses 3 "$WORK/tokens/d0000_token" || fail "d0000 (c0000's certificate) admitted on host 3"
out=$(host_digest_equal 3) || fail "host 3 differs from etcd: $out"
pass "a load in parts refused d0000, whose certificate c0000 claimed in an earlier part ($out)"
