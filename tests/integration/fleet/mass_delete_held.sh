# Every client deleted from etcd at once behind keytool's back (`etcdctl del
# --prefix`, a script gone wrong): the watch does not empty host 1. It holds
# its last state and says HELD; one del at a time still goes through (also
# many delivered together); the operator's --accept-new-fleet applies the
# deletion.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
start_host 1
start_nginx 1
admin_gen alice bob carol dave
wait_on_host 1 valid ./dave_token
admin del dave >/dev/null
wait_on_host 1 refused ./dave_token
pass "one del at a time is applied as ever"

# Single dels that reach the host together (it was stopped meanwhile, and
# its watch delivers them at once) are each their own revision: applied,
# even when together they remove more than --max-loss.
admin_gen erin frank gina hank
wait_on_host 1 valid ./hank_token
kill -STOP "${SYNC_PID[1]}"
for id in erin frank gina hank; do admin del "$id" >/dev/null || fail "del $id"; done
kill -CONT "${SYNC_PID[1]}"
for id in erin frank gina hank; do wait_on_host 1 refused "./${id}_token"; done
grep -q HELD "$WORK/sync1.log" && fail "single dels delivered together held: $(grep HELD "$WORK/sync1.log")"
pass "4 single dels of 7 clients delivered together: applied, not held"

# Four dels of six clients, then every client left deleted at once, reaching
# the host together: the dels are applied (a mass delete after them must not
# keep a revoked client admitted), the mass delete is not, though it removes
# only 2 of the 6 clients the host served before the dels.
admin_gen ivan judy kim
wait_on_host 1 valid ./kim_token
kill -STOP "${SYNC_PID[1]}"
for id in carol ivan judy kim; do admin del "$id" >/dev/null || fail "del $id"; done
etcdctl --endpoints "$ETCD" del --prefix /keyauth/clients/ >/dev/null
sleep 0.5  # all sent to the stopped host's watch before it reads again
kill -CONT "${SYNC_PID[1]}"
wait_until 10 "host 1 held" grep -q "HELD: etcd deleted 2 of the 2 clients" "$WORK/sync1.log"
sleep 1
expect_eq "$(http_status 1 ./alice_token)" "200" "nginx with alice after the mass delete"
for id in carol ivan judy kim; do
    expect_eq "$(http_status 1 "./${id}_token")" "401" "nginx with $id, deleted just before it"
done
status_says_held 1
pass "every client deleted at once: not applied, host 1 serves its last state and says HELD; the dels before it applied"

accept_new_fleet 1
wait_on_host 1 refused ./alice_token
wait_for_status 1 ./bob_token 401
host_digest_equal 1 >/dev/null || fail "host 1 differs from etcd"
pass "accepted by the operator: the deletion applied, host 1 equals etcd"
