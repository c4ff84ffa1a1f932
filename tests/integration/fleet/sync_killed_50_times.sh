# keyauth-sync SIGKILLed 50 times while gens and dels stream through etcd:
# each restart resumes from the revision committed with the data, so the
# final registry equals etcd's, by digest, at etcd's latest revision.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
start_host 1

writer() {
    local n=0
    while [ ! -e "$WORK/stop" ]; do
        n=$((n + 1))
        admin gen "w$1-$n" --output "./w$1-$n" >/dev/null 2>&1 || true
        [ $((n % 3)) -ne 0 ] || admin del "w$1-$((n - 1))" >/dev/null 2>&1 || true
    done
}
writer a & wa=$!
writer b & wb=$!
at_exit "touch $WORK/stop; kill $wa $wb 2>/dev/null"

for k in $(seq 50); do
    stop_host 1 KILL
    start_host 1
    sleep "0.$(shuf -i 5-30 -n 1)"
done
stop_host 1 KILL
touch "$WORK/stop"
wait "$wa" "$wb"
resumed=$(grep -o "resuming at etcd revision [0-9]*" "$WORK/sync1.log" | sort -u | wc -l)
[ "$resumed" -ge 25 ] || fail "only $resumed distinct revisions resumed from: the kills missed the applies"
pass "50 SIGKILLs during applies ($resumed distinct revisions resumed from); etcd at revision $(etcd_revision) with $(etcd_ids | wc -l) clients"

start_host 1
at_revision() { keytool --registry "$(host_dir 1)" status | grep -q "etcd revision: $1\$"; }
wait_until 15 "host 1 at etcd's revision" at_revision "$(etcd_revision)"
out=$(host_digest_equal 1) || fail "host 1 differs from etcd: $out"
expect_eq "$(keytool --registry "$(host_dir 1)" list --json | grep -o '"id":"[^"]*"' | cut -d'"' -f4 | sort)" \
    "$(etcd_ids)" "ids on host 1"
pass "after 50 kills host 1 equals etcd: $out"
