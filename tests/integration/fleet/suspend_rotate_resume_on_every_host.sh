# The lifecycle through a 3-member etcd fleet: `keytool --etcd suspend alice`
# cuts her sessions on the brokers of hosts 1 and 2 and every host refuses
# her; `resume` admits the same token again everywhere; `rotate --grace`
# keeps her old token valid on every host until the grace ends, then every
# host refuses it and her old session is cut, with no further command.
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
done

expect_eq "$(admin suspend alice)" "suspended" "keytool --etcd suspend alice"
# The administrator's registry holds no clients: show --etcd reads etcd's.
expect_contains "$(admin show alice)" "suspended" "keytool --etcd show alice"
since=$(now_millis)
for i in 1 2 3; do wait_on_host "$i" refused ./alice_token 2; done
for i in 1 2; do
    wait_until 2 "alice's session on host $i cut" \
        grep -q "disconnecting MQTT client 'alice:on-$i' of 'alice': suspended" "$WORK/broker$i.log"
done
elapsed=$(($(now_millis) - since))
[ "$elapsed" -le 1000 ] || fail "the suspension took $elapsed ms to reach every host"
for i in 1 2; do
    expect_eq "$(http_status "$i" ./alice_token)" "401" "host $i's nginx, alice suspended"
    session_alive "bob:on-$i" || fail "bob's session on host $i was cut"
done
expect_eq "$(keytool --registry "$(host_dir 3)" show alice --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')" "suspended" "host 3's record"
pass "suspended on every host within $elapsed ms, her sessions cut, bob's kept"

expect_eq "$(admin resume alice)" "resumed" "keytool --etcd resume alice"
for i in 1 2 3; do wait_on_host "$i" valid ./alice_token 2; done
for i in 1 2; do expect_eq "$(http_status "$i" ./alice_token)" "200" "host $i's nginx, alice resumed"; done
pass "resumed: the same token admitted on every host"

mkdir old && cp ./alice_token old/
for i in 1 2; do subscribe "$i" "alice:old-$i" old/alice_token; done
admin rotate alice --grace 6s --output ./alice --force >/dev/null
for i in 1 2 3; do wait_on_host "$i" valid ./alice_token 2; done
until=$(keytool --registry "$(host_dir 3)" show alice --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["previous_not_after"])')
for i in 1 2 3; do host_verify "$i" old/alice_token || fail "host $i refused the old token in its grace"; done
for i in 1 2; do
    expect_eq "$(http_status "$i" old/alice_token)" "200" "host $i's nginx, old token in its grace"
    session_alive "alice:old-$i" || fail "the old token's session on host $i was cut in the grace"
done
pass "rotated: the new token valid everywhere, the old one still admitted in its grace"

while [ "$(date +%s)" -le "$until" ]; do sleep 0.1; done
for i in 1 2 3; do wait_on_host "$i" refused old/alice_token 2; done
for i in 1 2; do
    wait_until 2 "the old token's session on host $i cut at the grace's end" \
        grep -q "disconnecting MQTT client 'alice:old-$i' of 'alice': expired" "$WORK/broker$i.log"
    expect_eq "$(http_status "$i" old/alice_token)" "401" "host $i's nginx, old token after the grace"
    expect_eq "$(http_status "$i" ./alice_token)" "200" "host $i's nginx, new token"
done
pass "at the grace's end, with no command: the old token refused and its sessions cut on every host"
