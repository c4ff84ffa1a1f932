# keytool --etcd walks the usage prefix in one go up to 65 536 keys, and
# host by host from the publish markers beyond (walking more costs etcd 3.4
# quadratic time), and says so; more than 65 536 markers fail list --unused
# naming the range and the fix. A stand-in gateway claims the counts (no
# keys written). One host crowding its own prefix costs only that host:
# fleet_host_crowding_its_usage_left_out_alone.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$TESTLIB"

keytool init >/dev/null
for crowded in shards markers; do
    python3 "$HERE/fleet_last_use_too_many_keys_refused.py" "$WORK/port-$crowded" "$crowded" &
    gateway=$!
    at_exit "kill $gateway 2>/dev/null"
    for _ in $(seq 100); do [ -s "$WORK/port-$crowded" ] && break; sleep 0.05; done
    etcd=http://127.0.0.1:$(cat "$WORK/port-$crowded")
    out=$(keytool --etcd "$etcd" list --unused 1d 2>&1) && fail "list --unused answered with $crowded crowded: $out"
    if [ "$crowded" == shards ]; then
        expect_contains "$out" "etcd holds 1048577 keys under /keyauth-usage/00ff/, more than 65536 to read in one walk: read host by host from their publish markers" "list --unused, shards"
    else
        expect_contains "$out" "etcd holds 65537 publish markers under /keyauth-usage-hosts/00ff/, more than 65536 a fleet can publish: not read" "list --unused, markers"
        expect_contains "$out" "delete what a host should not have put" "the fix"
    fi
    kill "$gateway"
    wait "$gateway" 2>/dev/null || true  # killed: 143
done
pass "more than 65 536 usage keys: read host by host, said; more than 65 536 publish markers: list --unused refused, naming them"
