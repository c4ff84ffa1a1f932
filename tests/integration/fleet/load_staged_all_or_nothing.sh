# A load commits every few thousand clients (so that LMDB never holds the
# whole registry's pages in memory), into a directory beside the registry
# that is swapped in whole: the servers' view (keytool status as the
# registry's group reads lookup.idx and commit.seq), the owner's (LMDB) and
# keyauth-sync's own revision show no client or all of them, never a part.
# keyauth-sync killed in the middle of such a load leaves the registry as
# it was, and the next start clears the half-filled directory and loads all.
source "$FLEET_LIB"
export KEYAUTH_ETCD_READ_PAGE=250  # a load of seconds: the probes see it under way
clients=25000                      # three transactions of the fill, and a part
start_etcd_cluster
admin init >/dev/null
admin_gen_bulk c "$clients"
expected=$((clients + 1))          # and the template
# staged I: the directory host I's load fills (DIR.rebuild.XXXXXX), once made.
staged() { compgen -G "$(host_dir "$1").rebuild.??????"; }

# probe AS...: `clients:` of keytool status, one a line, until $WORK/stop-probe.
probe() {
    while [ ! -e "$WORK/stop-probe" ]; do
        "$@" "$KEYTOOL" --registry "$(host_dir 1)" status 2>/dev/null | sed -n 's/^clients: *//p'
        sleep 0.01
    done
}
as_group() { setpriv --reuid=nobody --regid=mosquitto --clear-groups "$@"; }
as_owner() { "$@"; }

# Killed half way: only once the new directory holds a committed part.
"$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$(host_dir 1)" --group mosquitto >>"$WORK/sync1.log" 2>&1 &
SYNC_PID[1]=$!
at_exit "kill -KILL ${SYNC_PID[1]} 2>/dev/null"
part_committed() { [ "$(stat -c %s "$(staged "$1")/data.mdb" 2>/dev/null || echo 0)" -gt 1000000 ]; }
wait_until 60 "a part of the load committed beside $(host_dir 1)" part_committed 1
staged=$(staged 1)
stop_host 1 KILL
grep -q "loaded" "$WORK/sync1.log" && fail "the load ended before the kill: nothing shown"
[ -d "$staged" ] || fail "no half-filled $staged after the kill"
out=$(keytool --registry "$(host_dir 1)" status) || true
expect_contains "$out" "clients:       0" "the registry after a load killed half way"
pass "keyauth-sync killed with $(stat -c %s "$staged/data.mdb") bytes committed beside the registry: it serves 0 clients"

# Started again, with probes: the half-filled directory goes, the load
# swaps the whole registry in.
rm -f "$WORK/stop-probe"
probe as_group >"$WORK/group-counts" & group_probe=$!
probe as_owner >"$WORK/owner-counts" & owner_probe=$!
at_exit "touch $WORK/stop-probe"
start_host 1
wait_until 120 "host 1 loaded" grep -q "loaded $expected clients" "$WORK/sync1.log"
sleep 0.3
touch "$WORK/stop-probe"
wait "$group_probe" "$owner_probe"
for who in group owner; do
    counts=$(sort -n "$WORK/$who-counts" | uniq -c | tr -s ' ' | tr '\n' ';')
    [ -s "$WORK/$who-counts" ] || fail "the $who's probe read nothing"
    grep -vqx -e 0 -e "$expected" "$WORK/$who-counts" &&
        fail "the $who saw a part of the load (occurrences, count): $counts"
    # In the order read: once all, never none again (an old index published
    # over the new registry).
    awk -v all="$expected" '$1 == all { seen = 1 } seen && $1 == 0 { exit 1 }' "$WORK/$who-counts" ||
        fail "the $who saw the load, then none of it: $(tr '\n' ' ' <"$WORK/$who-counts")"
    echo "the $who's view during the load (occurrences, count): $counts"
done
grep -qx "$expected" "$WORK/owner-counts" || fail "the owner's probe never saw the load"
expect_eq "$(as_group "$KEYTOOL" --registry "$(host_dir 1)" status | sed -n 's/^clients: *//p')" "$expected" \
    "clients the registry's group reads after the load"
[ -e "$staged" ] && fail "$staged left behind after the load"
expect_eq "$(keytool --registry "$(host_dir 1)" list --json | grep -c '"id":')" "$expected" "clients listed"
out=$(host_digest_equal 1) || fail "host 1 differs from etcd: $out"
pass "restarted: the load swapped in all $expected clients at once (no part seen by the group or the owner), nothing left beside it ($out)"

# keytool writing the empty registry while it loads (it has no revision yet,
# so keytool does not refuse; here an operator copied the CA key in): the
# swap does not throw the client away; the load gives way to a rebuild,
# which counts the loss and refuses it.
"$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$(host_dir 2)" --group mosquitto >>"$WORK/sync2.log" 2>&1 &
SYNC_PID[2]=$!
at_exit "kill -KILL ${SYNC_PID[2]} 2>/dev/null"
wait_until 60 "a part of host 2's load committed beside $(host_dir 2)" part_committed 2
cp "$ADMIN/ca_key.pem" "$ADMIN/ca_cert.pem" "$(host_dir 2)/"
keytool --registry "$(host_dir 2)" gen intruder01 --output ./intruder01 >/dev/null ||
    fail "keytool gen on host 2's empty registry during its load"
wait_until 120 "host 2's load given up" grep -q "while keyauth-sync filled its replacement from etcd: rebuilding it again" "$WORK/sync2.log"
wait_until 120 "host 2's rebuild refused" grep -q "would remove 1 of the 1 clients" "$WORK/sync2.log"
host_verify 2 ./intruder01_token || fail "the client keytool registered during the load was thrown away"
grep -q "loaded $expected clients" "$WORK/sync2.log" && fail "host 2 swapped its load in over keytool's client"
pass "keytool's client written during host 2's load kept: the load gave way to a rebuild, which refused the loss"
