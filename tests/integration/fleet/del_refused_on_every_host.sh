# `keytool --etcd ... del alice`: alice's live MQTT sessions on the brokers of
# hosts 1 and 2 are dropped, nginx on both refuses her token, host 3 refuses
# it; bob's session stays.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
for i in 1 2 3; do start_host "$i"; done
for i in 1 2; do start_broker "$i"; start_nginx "$i"; done
admin_gen alice bob
for i in 1 2 3; do wait_on_host "$i" valid ./alice_token; wait_on_host "$i" valid ./bob_token; done
for i in 1 2; do
    subscribe "$i" "alice:on-$i" ./alice_token
    subscribe "$i" "bob:on-$i" ./bob_token
    expect_eq "$(http_status "$i" ./alice_token)" "200" "host $i's nginx before del"
done

expect_eq "$(admin del alice)" "deleted" "keytool --etcd del alice"
since=$(now_millis)
for i in 1 2 3; do wait_on_host "$i" refused ./alice_token 2; done
for i in 1 2; do
    wait_until 2 "alice's session on host $i dropped" grep -q "disconnecting MQTT client 'alice:on-$i' of 'alice'" "$WORK/broker$i.log"
done
elapsed=$(($(now_millis) - since))
[ "$elapsed" -le 1000 ] || fail "revocation took $elapsed ms to reach every host"
pass "alice refused on every host and her sessions on hosts 1 and 2 dropped within $elapsed ms"

for i in 1 2; do
    expect_eq "$(http_status "$i" ./alice_token)" "401" "host $i's nginx after del"
    out=$(publish "$i" ./alice_token "after del") && fail "host $i's broker accepted alice after del"
    expect_eq "$(http_status "$i" ./bob_token)" "200" "host $i's nginx with bob"
    session_alive "bob:on-$i" || fail "bob's session on host $i was dropped"
    ! grep -q "of 'bob'" <(grep disconnecting "$WORK/broker$i.log") || fail "bob dropped on host $i"
done
pass "alice refused by nginx and brokers; bob's sessions stay"

out=$(admin del alice 2>&1) && fail "a second del alice succeeded"
expect_contains "$out" "no client alice" "second del"
pass "del of a client no longer in the fleet refused"
