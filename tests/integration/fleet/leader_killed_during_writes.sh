# The etcd leader SIGKILLed in the middle of a burst of `keytool --etcd gen`:
# every gen that said it saved its files is registered, everywhere, once;
# none that failed left a client behind; every host equals etcd by digest.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
for i in 1 2 3; do start_host "$i"; done

burst() {
    local n
    for n in $(seq -w 1 100); do
        if admin gen "c$n" --output "./c$n" >/dev/null 2>>"$WORK/burst.err"; then
            echo "c$n" >>"$WORK/saved"
        else
            echo "c$n" >>"$WORK/failed"
        fi
    done
}
touch "$WORK/saved" "$WORK/failed"
burst &
burst_pid=$!
saved_at_least() { [ "$(wc -l <"$WORK/saved")" -ge "$1" ]; }
wait_until 30 "a fifth of the burst written" saved_at_least 20
leader=$(etcd_leader) || fail "no leader"
stop_member "$leader" KILL
killed_at=$(wc -l <"$WORK/saved")
wait "$burst_pid"
pass "leader (member $leader) killed after $killed_at of 100 gens; $(wc -l <"$WORK/saved") saved, $(wc -l <"$WORK/failed") failed"
[ ! -s "$WORK/failed" ] || cat "$WORK/burst.err" >&2

# Nothing lost: every saved client is in etcd. Nothing half-done: no failed
# one is, and nothing else is.
expect_eq "$(etcd_ids)" "$(sort "$WORK/saved")" "clients in etcd against the gens that saved files"
for id in $(cat "$WORK/failed"); do [ ! -e "./${id}_token" ] || fail "failed gen $id left its token"; done
pass "etcd holds exactly the clients whose gen succeeded"

# Every host: equal to etcd by digest, and each saved token valid there.
for i in 1 2 3; do
    wait_until 10 "host $i equal to etcd" host_digest_equal "$i"
    for id in $(cat "$WORK/saved"); do host_verify "$i" "./${id}_token" || fail "$id not valid on host $i"; done
    expect_eq "$(keytool --registry "$(host_dir "$i")" list --json | grep -c '"id"')" \
        "$(wc -l <"$WORK/saved")" "clients on host $i"
done
pass "every host equals etcd by digest; every saved token valid on every host, once"
