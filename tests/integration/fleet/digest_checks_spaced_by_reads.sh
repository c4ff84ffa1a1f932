# A digest check reads etcd whole, as a load does: the next one waits
# --digest-interval or ten times as long as the last such read took,
# whichever is longer (a load counts as one). At a million clients a read
# takes minutes; before, a host with the default interval compared again
# as soon as it had finished, reading etcd without pause, and `--once`
# read the snapshot it had just loaded a second time.
source "$FLEET_LIB"
CLIENTS=${CLIENTS:-25000}
start_etcd_cluster
admin init >/dev/null
admin_gen_bulk b "$CLIENTS"

port=$(free_port)
DIGEST_INTERVAL=1 start_host 1 --metrics "127.0.0.1:$port"
metrics() { curl -s "http://127.0.0.1:$port/metrics"; }
value() { metrics | awk -v name="$1" '$1 == name {print $2}'; }
loaded() { grep -q '^.*loaded [0-9]* clients' "$WORK/sync1.log"; }
wait_until 120 "host 1's first load" loaded
load_seconds=$(sed -n 's/.*loaded [0-9]* clients .* in \([0-9.]*\) s.*/\1/p' "$WORK/sync1.log" | head -1)
[ -n "$load_seconds" ] || fail "no load time in the log: $(cat "$WORK/sync1.log")"
# Ten times the load, less what has passed and a margin, must pass without a
# check; with a load under 0.5 s this machine is too fast to tell.
window=$(python3 -c "print(max(0.0, min(20.0, 10 * $load_seconds * 0.7)))")
if python3 -c "import sys; sys.exit(0 if $load_seconds >= 0.5 else 1)"; then
    sleep "$window"
    expect_eq "$(value keyauth_sync_digest_checks_total)" 0 \
        "digest checks within $window s of a load that took $load_seconds s (--digest-interval 1)"
    pass "no digest check within ten times the load's read ($load_seconds s)"
else
    echo "# the load took $load_seconds s: too fast to tell a pause from none"
fi
checked() { [ "$(value keyauth_sync_digest_checks_total)" -ge 1 ]; }
wait_until "$(python3 -c "print(int(10 * $load_seconds) + 30)")" "a digest check after the pause" checked
pass "a digest check follows, equal to etcd"
grep -q 'digest mismatch' "$WORK/sync1.log" && fail "a digest mismatch: $(grep 'digest mismatch' "$WORK/sync1.log")"
pass "no false alarm"
