# keytool --etcd reads the last-use shards in one walk of the usage prefix,
# and that walk's first page counts the keys (one walk or host by host): the
# prefix is ranged once, not first counted in a range of its own. A
# stand-in gateway (fleet_last_use_too_many_keys_refused.py, nothing
# crowded) notes every range asked for.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$TESTLIB"

keytool init >/dev/null
python3 "$HERE/fleet_last_use_too_many_keys_refused.py" "$WORK/port" none "$WORK/ranges" &
gateway=$!
at_exit "kill $gateway 2>/dev/null"
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
etcd=http://127.0.0.1:$(cat "$WORK/port")

# The stand-in publishes nothing: list --unused reads it all, then says so.
out=$(keytool --etcd "$etcd" list --unused 1d 2>&1) && fail "list --unused answered with no host publishing: $out"
expect_contains "$out" "no host of the fleet publishes it" "list --unused, after reading"
walks=$(grep -cx '/keyauth-usage/00ff/' "$WORK/ranges" || true)
[ "$walks" == 1 ] || fail "the usage prefix was ranged $walks times, not once: $(cat "$WORK/ranges")"
pass "keytool --etcd list --unused ranges the usage prefix once"
