# A host HELD for a mass delete (4 of its 7 clients deleted in one etcd
# revision) still applies the single dels made afterwards: a client revoked
# while the host is held is refused there, by the watch, across the 5 s
# retries of the refused rebuild, and after a restart of keyauth-sync. The
# mass delete is never applied, no put is (a client made meanwhile is not
# admitted), and the host says HELD throughout; the operator's
# --accept-new-fleet then applies everything.
source "$FLEET_LIB"
MEMBERS=(1)
start_etcd_cluster
admin init >/dev/null || fail "admin init"
admin_gen alice amy ann bob dave erin frank
start_host 1
wait_on_host 1 valid ./frank_token 10

# [a, c): alice, amy, ann and bob in one revision.
etcdctl --endpoints "$ETCD" del /keyauth/clients/a /keyauth/clients/c >/dev/null
wait_until 10 "host 1 held" grep -q "HELD: etcd deleted 4 of the 7 clients" "$WORK/sync1.log"
group_verify 1 ./alice_token || fail "alice (in the mass delete) refused on host 1"
pass "4 of 7 clients deleted at once: host 1 HELD, alice still admitted"

admin del dave >/dev/null || fail "admin del dave"
wait_until 10 "dave (deleted while host 1 is held) refused on host 1 as the servers read it" \
    group_refuses 1 ./dave_token
group_verify 1 ./bob_token || fail "bob (in the mass delete) refused on host 1 after dave's del"
status_says_held 1
pass "a del while held reaches host 1, which is still HELD and keeps the mass delete out"

# After a retry of the refused rebuild (every 5 s while held); a client
# made meanwhile (a put) is not admitted.
wait_until 10 "a held retry of the rebuild, refused" \
    grep -q "HELD: a rebuild from etcd .* would remove 4 of the 6 clients" "$WORK/sync1.log"
admin_gen gina
admin del erin >/dev/null || fail "admin del erin"
wait_until 10 "erin (deleted after a held retry) refused on host 1" group_refuses 1 ./erin_token
group_refuses 1 ./gina_token || fail "gina (made while host 1 is held) admitted: a put applied"
group_verify 1 ./amy_token || fail "amy (in the mass delete) refused on host 1"
pass "a del after a held retry applied too; a put made while held is not"

# Deleted while keyauth-sync is down: applied when it starts again, held.
stop_host 1
admin del frank >/dev/null || fail "admin del frank"
start_host 1
wait_until 10 "frank (deleted while keyauth-sync was down) refused on host 1" \
    group_refuses 1 ./frank_token
group_verify 1 ./ann_token || fail "ann (in the mass delete) refused on host 1 after the restart"
status_says_held 1
grep -q "no longer held" "$WORK/sync1.log" && fail "host 1 un-held: $(grep "no longer held" "$WORK/sync1.log")"
pass "a del made while keyauth-sync was down applied at its start, still HELD, the mass delete still out"

accept_new_fleet 1
wait_on_host 1 refused ./alice_token 10
wait_on_host 1 valid ./gina_token 10
host_digest_equal 1 >/dev/null || fail "host 1 differs from etcd"
pass "accepted by the operator: the mass delete and the put applied, host 1 equals etcd"
