# keytool --etcd reads at most 65 536 last-use shards, and as many publish
# markers (paging through more costs etcd 3.4 quadratic time): beyond that,
# list --unused fails naming the range and the fix. A stand-in gateway
# claims the count (no 65 537 keys written).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$TESTLIB"

keytool init >/dev/null
for crowded in shards markers; do
    python3 "$HERE/fleet_last_use_over_65536_keys_refused.py" "$WORK/port-$crowded" "$crowded" &
    gateway=$!
    at_exit "kill $gateway 2>/dev/null"
    for _ in $(seq 100); do [ -s "$WORK/port-$crowded" ] && break; sleep 0.05; done
    etcd=http://127.0.0.1:$(cat "$WORK/port-$crowded")
    what=$([ "$crowded" == shards ] && echo "last-use shards under /keyauth-usage/00ff/" ||
        echo "publish markers under /keyauth-usage-hosts/00ff/")
    out=$(keytool --etcd "$etcd" list --unused 1d 2>&1) && fail "list --unused read $crowded beyond the cap"
    expect_contains "$out" "etcd holds 65537 $what, more than 65536 a fleet can publish: not read" "list --unused, $crowded"
    expect_contains "$out" "delete what a host should not have put" "the fix"
    kill "$gateway"
    wait "$gateway" 2>/dev/null || true  # killed: 143
done
pass "more than 65 536 last-use shards or publish markers: list --unused refused, naming them"
