# A host's etcd user may fill its own usage prefix with more keys than
# readers page through (65 537 one-entry shards here). keytool --etcd leaves
# that host alone out once it has read more shards of it than the registry
# could fill, and skips the rest of its prefix: show and list --json still
# give the other hosts' last use, list --unused fails naming the host (a
# host half-read could show a used client as unused). Before, the whole
# usage prefix was refused and every host's last use went with it.
source "$FLEET_LIB"
start_fleet alice bob carol
TODAY=$(date -u +%F)

usage_shards() {
    python3 "$(dirname "$FLEET_LIB")/usage_shards.py" "${ETCD%%,*}" "$FLEET_ID" "$@" ||
        fail "shards for $1"
}
usage_shards host-good flood 0
usage_shards host-crowd crowd 65537
keys=$(etcdctl --endpoints "$ETCD" get --prefix "/keyauth-usage/$FLEET_ID/host-crowd/" --keys-only |
    sed '/^$/d' | wc -l)
expect_eq "$keys" 65537 "host-crowd's keys in etcd"

admin show alice >"$WORK/out" 2>"$WORK/err" || fail "show alice: $(cat "$WORK/err")"
expect_contains "$(cat "$WORK/out")" "LAST USED BY HOST   $TODAY (host-good)" "show alice: host-good's day"
expect_contains "$(cat "$WORK/err")" "host host-crowd: etcd key /keyauth-usage/$FLEET_ID/host-crowd/" "host-crowd named"
expect_contains "$(cat "$WORK/err")" "more than 64 shards, more than a registry of 3 clients needs: the rest not read" "why"
expect_not_contains "$(cat "$WORK/err")" "host-good" "host-good on stderr"
pass "show: host-crowd left out alone, host-good's last use shown"

admin list --json >"$WORK/out" 2>"$WORK/err" || fail "list --json: $(cat "$WORK/err")"
expect_contains "$(cat "$WORK/out")" '"stale_hosts":null' "list --json: not judged"
expect_contains "$(cat "$WORK/err")" "host host-crowd" "list --json's stderr"
out=$(admin list --unused 1d 2>&1) && fail "list --unused answered with host-crowd half-read: $out"
expect_contains "$out" "host host-crowd" "list --unused names host-crowd"
pass "list --json answers, list --unused refuses, both naming host-crowd"
