# A host's etcd user may fill its own usage prefix with more shards than
# the registry could fill, or with more keys than etcd should walk for every
# page of a read (65 537 here). keytool --etcd leaves that host alone out:
# show and list --json still give the other hosts' last use, list --unused
# fails naming the host (a host half-read could show a used client as
# unused). Before, more than 65 536 keys refused the whole usage prefix and
# every host's last use went with it.
source "$FLEET_LIB"
start_fleet alice bob carol
TODAY=$(date -u +%F)

usage_shards() {
    python3 "$(dirname "$FLEET_LIB")/usage_shards.py" "${ETCD%%,*}" "$FLEET_ID" "$@" ||
        fail "shards for $1"
}
# show_names_crowd HOST: show alice gives host-good's day, names HOST (and
# not host-good) on stderr.
show_names_crowd() {
    admin show alice >"$WORK/out" 2>"$WORK/err" || fail "show alice: $(cat "$WORK/err")"
    expect_contains "$(cat "$WORK/out")" "LAST USED BY HOST   $TODAY (host-good)" "show alice: host-good's day"
    expect_contains "$(cat "$WORK/err")" "host $1: etcd key /keyauth-usage/$FLEET_ID/$1/" "$1 named"
    expect_contains "$(cat "$WORK/err")" "more than 64 shards, more than a registry of 3 clients needs: the rest not read" "why"
    expect_not_contains "$(cat "$WORK/err")" "host-good" "host-good on stderr"
}

# Few keys in all: one walk of the prefix, host-a-crowd (before host-good
# in key order) refused at its 65th shard and the rest of it skipped.
usage_shards host-good flood 0
usage_shards host-a-crowd crowd 100
show_names_crowd host-a-crowd
expect_not_contains "$(cat "$WORK/err")" "host by host" "one walk"
pass "one walk: host-a-crowd's 100 shards left out alone, host-good's last use shown"

# More keys than etcd should walk for every page: host by host from the
# markers, host-crowd refused from its count.
usage_shards host-crowd crowd 65537
keys=$(etcdctl --endpoints "$ETCD" get --prefix "/keyauth-usage/$FLEET_ID/host-crowd/" --keys-only |
    sed '/^$/d' | wc -l)
expect_eq "$keys" 65537 "host-crowd's keys in etcd"
show_names_crowd host-crowd
expect_contains "$(cat "$WORK/err")" "keys under /keyauth-usage/$FLEET_ID/, more than 65536 to read in one walk: read host by host" "the mode said"
expect_contains "$(cat "$WORK/err")" "host host-a-crowd" "host-a-crowd named too"
pass "host by host: host-crowd's 65 537 keys left out alone, host-good's last use shown"

admin list --json >"$WORK/out" 2>"$WORK/err" || fail "list --json: $(cat "$WORK/err")"
expect_contains "$(cat "$WORK/out")" '"stale_hosts":null' "list --json: not judged"
expect_contains "$(cat "$WORK/err")" "host host-crowd" "list --json's stderr"
out=$(admin list --unused 1d 2>&1) && fail "list --unused answered with host-crowd half-read: $out"
expect_contains "$out" "more than 64 shards, more than a registry of 3 clients needs" "list --unused names a crowding host"
pass "list --json answers, list --unused refuses, both naming a crowding host"
