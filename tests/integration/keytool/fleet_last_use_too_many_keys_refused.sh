# keytool --etcd pages through at most 1 048 576 keys under the usage prefix
# and 65 536 publish markers (paging through more costs etcd 3.4 quadratic
# time): beyond that, list --unused fails naming the range and the fix. A
# stand-in gateway claims the count (no million keys written). One host
# crowding its own prefix costs only that host: fleet_host_crowding_its_usage_left_out_alone.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$TESTLIB"

keytool init >/dev/null
for crowded in shards markers; do
    python3 "$HERE/fleet_last_use_too_many_keys_refused.py" "$WORK/port-$crowded" "$crowded" &
    gateway=$!
    at_exit "kill $gateway 2>/dev/null"
    for _ in $(seq 100); do [ -s "$WORK/port-$crowded" ] && break; sleep 0.05; done
    etcd=http://127.0.0.1:$(cat "$WORK/port-$crowded")
    what=$([ "$crowded" == shards ] &&
        echo "1048577 last-use shards under /keyauth-usage/00ff/, more than 1048576" ||
        echo "65537 publish markers under /keyauth-usage-hosts/00ff/, more than 65536")
    out=$(keytool --etcd "$etcd" list --unused 1d 2>&1) && fail "list --unused read $crowded beyond the cap"
    expect_contains "$out" "etcd holds $what a fleet can publish: not read" "list --unused, $crowded"
    expect_contains "$out" "delete what a host should not have put" "the fix"
    kill "$gateway"
    wait "$gateway" 2>/dev/null || true  # killed: 143
done
pass "more than 1 048 576 usage keys or 65 536 publish markers: list --unused refused, naming them"
