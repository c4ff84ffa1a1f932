# A registry made by the release before record format 2
# (tests/fixtures/registry-format-1.tar.gz: alice and bob registered, carol
# deleted; format-1 records, a lookup.idx of format 2) is refused by the new
# module with words that say what to do; the first keytool command upgrades
# it in place; then alice's old token passes the real nginx and broker, bob's
# old certificate the broker's TLS listener, carol stays refused, and the
# new lifecycle commands work on the upgraded clients.
here=$(cd "$(dirname "$0")" && pwd)
source "$TESTLIB"
source "$here/../../lib/nginx.sh"
source "$here/../../lib/mosquitto.sh"
source "$here/older_registry_lib.sh"

unpack_registry registry-format-1.tar.gz

configure_nginx

out=$($nginx_t 2>&1) && fail "nginx -t accepted a registry of record format 1: $out"
expect_contains "$out" "was made by an older keyauth: run any keytool command on its registry as root once (e.g. keytool list) to upgrade it" \
    "nginx -t on the old registry"
pass "the new module refuses the old lookup index, saying what to do"

list=$(keytool list) || fail "keytool list on the old registry: $list"
expect_contains "$list" "alice" "keytool list after the upgrade"
expect_contains "$list" "bob" "keytool list after the upgrade"
expect_not_contains "$list" "carol" "keytool list after the upgrade"
out=$($nginx_t 2>&1) || fail "nginx -t after the upgrade: $out"
expect_eq "$(keytool show alice --json | python3 -c 'import json, sys; c = json.load(sys.stdin); print(c["state"], c["suspended"])')" \
    "active False" "alice after the upgrade"
pass "keytool list upgrades it in place (alice, bob; carol stays deleted), then nginx -t passes"

nginx_start "$ng"
expect_eq "$(curl -s -H "Authorization: Bearer $(cat alice_token)" "http://127.0.0.1:$HTTP/db/query")" \
    "client=alice" "alice's old token through nginx"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat carol_token)" \
    "http://127.0.0.1:$HTTP/db/query")" "401" "carol's token (deleted before the upgrade)"
start_broker
out=$(mosquitto_pub -h 127.0.0.1 -p "$MQTT" --username "$(cat alice_token)" -t db/write/EXAMPLE -m x 2>&1) ||
    fail "alice's old token refused by the broker: $out"
bob_cert() {
    mosquitto_pub -h 127.0.0.1 -p "$MQTTS" --id bob --cert bob_cert.pem --key bob_key.pem \
        --cafile "$KEYAUTH_REGISTRY/ca_cert.pem" -t db/append/EXAMPLE -m x 2>&1
}
out=$(bob_cert) || fail "bob's old certificate refused by the broker: $out"
pass "after the upgrade: the old token and certificate admitted by nginx and the broker"

expect_eq "$(keytool suspend alice)" "suspended" "suspend an upgraded client"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat alice_token)" \
    "http://127.0.0.1:$HTTP/db/query")" "401" "alice suspended"
expect_eq "$(keytool resume alice)" "resumed" "resume"
expect_eq "$(curl -s -H "Authorization: Bearer $(cat alice_token)" "http://127.0.0.1:$HTTP/db/query")" \
    "client=alice" "alice resumed"
keytool rotate bob --grace 1h --output ./bob-new >/dev/null
out=$(bob_cert) || fail "bob's old certificate in the grace of a rotation: $out"
expect_eq "$(curl -s -H "Authorization: Bearer $(cat bob-new_token)" "http://127.0.0.1:$HTTP/db/query")" \
    "client=bob" "bob's new token"
pass "suspend, resume and rotate --grace work on the upgraded clients"
