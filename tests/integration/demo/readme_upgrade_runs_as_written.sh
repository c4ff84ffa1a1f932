# README, "Upgrading": a registry made by keyauth 0.1
# (tests/fixtures/registry-0.1.0.tar.gz: alice and bob registered, carol
# deleted) is refused by the new module with the words the README quotes;
# the README's upgrade block (keytool list, nginx -t; the systemctl lines are
# the test's own start of the servers) upgrades it in place; then alice's 0.1
# token passes the real nginx and broker, and bob's 0.1 certificate the
# broker's TLS listener.
here=$(cd "$(dirname "$0")" && pwd)
source "$TESTLIB"
source "$here/readme_lib.sh"
source "$here/../../lib/nginx.sh"
source "$here/../../lib/mosquitto.sh"
source "$here/older_registry_lib.sh"

# As a 0.1 install left it, for servers in group mosquitto (0.1 made
# lock.mdb group-writable, for its readers).
unpack_registry registry-0.1.0.tar.gz
install -m 660 -g mosquitto /dev/null "$KEYAUTH_REGISTRY/lock.mdb"

configure_nginx

# The refusal, in the words the README quotes (its path is /var/lib/keyauth).
words="was made by an older keyauth and has no lookup.idx: run any keytool command on it as root once (e.g. keytool list) to upgrade it"
out=$($nginx_t 2>&1) && fail "nginx -t accepted a 0.1 registry: $out"
expect_contains "$out" "registry $KEYAUTH_REGISTRY $words" "nginx -t on a 0.1 registry"
expect_contains "$(tr -s ' \n' '  ' <"$KEYAUTH_README")" "registry /var/lib/keyauth $words" "the README's quote"
pass "the new module refuses a 0.1 registry with the README's words"

block=$(readme_block upgrade-registry)
expect_contains "$block" "sudo nginx -t" "upgrade block"
expect_contains "$block" "sudo systemctl restart nginx" "upgrade block"
expect_contains "$block" "sudo systemctl restart mosquitto" "upgrade block"
readme_run upgrade-registry "s|sudo nginx -t|$nginx_t|" "/systemctl/d" >upgrade.out 2>&1 ||
    fail "README upgrade block: $(cat upgrade.out)"
expect_contains "$(cat upgrade.out)" "alice" "keytool list after the upgrade"
expect_contains "$(cat upgrade.out)" "bob" "keytool list after the upgrade"
expect_not_contains "$(cat upgrade.out)" "carol" "keytool list after the upgrade"
expect_contains "$(cat upgrade.out)" "test is successful" "nginx -t after the upgrade"
[ ! -e "$KEYAUTH_REGISTRY/lock.mdb" ] || fail "lock.mdb left after the upgrade"
pass "README: keytool list upgrades it in place (alice, bob; carol stays deleted), then nginx -t passes"

# What systemctl restart nginx and restart mosquitto start, on loopback.
nginx_start "$ng"
expect_eq "$(curl -s -H "Authorization: Bearer $(cat alice_token)" "http://127.0.0.1:$HTTP/db/query")" \
    "client=alice" "alice's 0.1 token through nginx"
start_broker
out=$(mosquitto_pub -h 127.0.0.1 -p "$MQTT" --username "$(cat alice_token)" -t db/write/EXAMPLE -m x 2>&1) ||
    fail "alice's 0.1 token refused by the broker: $out"
out=$(mosquitto_pub -h 127.0.0.1 -p "$MQTTS" --id bob --cert bob_cert.pem --key bob_key.pem \
    --cafile "$KEYAUTH_REGISTRY/ca_cert.pem" -t db/append/EXAMPLE -m x 2>&1) ||
    fail "bob's 0.1 certificate refused by the broker: $out"
keytool del alice >/dev/null
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat alice_token)" \
    "http://127.0.0.1:$HTTP/db/query")" "401" "alice after del"
pass "after the upgrade: 0.1 tokens and certificates admitted by nginx and the broker; a del takes effect"
