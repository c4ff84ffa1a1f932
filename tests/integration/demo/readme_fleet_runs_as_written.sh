# README, "A fleet": its blocks as written, on loopback: three etcd members
# started by the README's etcd command (each with its own name, ports and
# data directory for 10.0.0.1-3), the administrator's init, gen and list,
# a server certificate for a host, two hosts whose install-made registry is
# set aside for keyauth-sync's replica, status and --check, and a del that
# every host refuses.
here=$(cd "$(dirname "$0")" && pwd)
source "$FLEET_LIB"   # sources $TESTLIB; skips (77) without etcd or root
source "$here/readme_lib.sh"
source "$here/../../lib/mosquitto.sh"
: "${PLUGIN:?}"

ETCD=""
ETCD_SED=()   # the README's etcd addresses, on loopback ports
for i in "${MEMBERS[@]}"; do
    CLIENT_PORT[$i]=$(free_port)
    PEER_PORT[$i]=$(free_port)
    ETCD+="${ETCD:+,}http://127.0.0.1:${CLIENT_PORT[$i]}"
    ETCD_SED+=("s|10\.0\.0\.$i:2379|127.0.0.1:${CLIENT_PORT[$i]}|g" "s|10\.0\.0\.$i:2380|127.0.0.1:${PEER_PORT[$i]}|g")
done

block=$(readme_block fleet-etcd)
[[ "$(head -1 <<<"$block")" == "NAME=etcd1 IP=10.0.0.1 "* ]] || fail "README's fleet-etcd block changed: $block"
for i in "${MEMBERS[@]}"; do
    readme_start fleet-etcd "$WORK/etcd$i.pid" "$WORK/etcd$i.log" \
        "1s|^NAME=etcd1 IP=10.0.0.1 .*|NAME=etcd$i IP=127.0.0.1|" \
        "s|\$IP:2379|\$IP:${CLIENT_PORT[$i]}|g" "s|\$IP:2380|\$IP:${PEER_PORT[$i]}|g" "${ETCD_SED[@]}" \
        "s|/var/lib/etcd/keyauth|$WORK/etcd$i|" "s|--initial-cluster-token keyauth\$|--initial-cluster-token keyauth-$$|" \
        "s|^etcd |echo \$\$ >$WORK/etcd$i.pid; exec etcd |"
done
wait_until 30 "etcd cluster healthy" etcdctl --endpoints "$ETCD" endpoint health
out=$(readme_run fleet-health "${ETCD_SED[@]}" 2>&1) || fail "README fleet-health: $out"
expect_eq "$(grep -c 'is healthy' <<<"$out")" 3 "three healthy members"
pass "README: three etcd members from its command, healthy"

# The administrator's host, as the install left it.
keytool init --host 127.0.0.1 >/dev/null
readme_run fleet-init "${ETCD_SED[@]}" >init.out 2>&1 || fail "README fleet-init: $(cat init.out)"
expect_contains "$(cat init.out)" "Published CA certificate" "init"
expect_contains "$(cat init.out)" "myapp02" "list"
expect_eq "$(etcd_ids)" "myapp02" "etcd's clients"
expect_mode myapp02_token 600
readme_run fleet-server-cert "s|--host 10\.0\.0\.7|--host 127.0.0.1|" >cert.out 2>&1 ||
    fail "README fleet-server-cert: $(cat cert.out)"
openssl verify -CAfile "$KEYAUTH_REGISTRY/ca_cert.pem" broker7_cert.pem >/dev/null ||
    fail "broker7's certificate does not chain to the fleet's CA"
expect_mode broker7_key.pem 600
pass "README: init, gen myapp02 and list through etcd; a server certificate for a host"

# Two hosts, each with a registry of its own from the install.
for i in 1 2; do
    keytool --registry "$(host_dir "$i")" init >/dev/null
    readme_start fleet-host "$WORK/sync$i.pid" "$WORK/sync$i.log" "${ETCD_SED[@]}" \
        "s|/var/lib/keyauth|$(host_dir "$i")|g" "s|--group keyauth|--group mosquitto|" \
        "s|^sudo keyauth-sync |echo \$\$ >$WORK/sync$i.pid; exec keyauth-sync |"
    wait_until 10 "host $i's first load" test -f "$(host_dir "$i")/ca_cert.pem"
    [ -f "$(host_dir "$i").install/ca_key.pem" ] || fail "host $i's install registry not set aside"
    [ ! -e "$(host_dir "$i")/ca_key.pem" ] || fail "host $i's replica holds a CA key"
    cmp -s "$KEYAUTH_REGISTRY/ca_cert.pem" "$(host_dir "$i")/ca_cert.pem" || fail "host $i lacks the fleet's CA certificate"
    expect_eq "$(stat -c '%a %G' "$(host_dir "$i")")" "2750 mosquitto" "host $i's registry directory"
    wait_on_host "$i" valid ./myapp02_token
done
readme_run fleet-host-cert "s|/var/lib/keyauth|$(host_dir 1)|g" "s|-g keyauth|-g mosquitto|" >hostcert.out 2>&1 ||
    fail "README fleet-host-cert: $(cat hostcert.out)"
expect_eq "$(stat -c '%a %G' "$(host_dir 1)/server_key.pem")" "640 mosquitto" "host 1's server key"
pass "README: keyauth-sync on two hosts replaces the install's registry with the fleet's; myapp02 valid on both"

# Host 1's broker, token and TLS listeners, as on one host.
MQTT=$(free_port)
MQTTS=$(free_port)
plugin=$(mosquitto_readable_plugin "$PLUGIN" "$WORK")
mosquitto_conf "$(mosquitto_plugin "$plugin" "$(host_dir 1)")" "$(mosquitto_listener "$MQTT")" \
    "$(mosquitto_listener "$MQTTS")" "$(mosquitto_tls "$(host_dir 1)")" >broker.conf
mosquitto_start broker.conf broker.log
out=$(mosquitto_pub -h 127.0.0.1 -p "$MQTT" --username "$(cat myapp02_token)" -t db/write/EXAMPLE -m x 2>&1) ||
    fail "host 1's broker refused myapp02's token: $out"
out=$(mosquitto_pub -h 127.0.0.1 -p "$MQTTS" --id myapp02 --cert myapp02_cert.pem --key myapp02_key.pem \
    --cafile "$(host_dir 1)/ca_cert.pem" -t db/append/EXAMPLE -m x 2>&1) ||
    fail "host 1's TLS listener (broker7's certificate) refused myapp02's certificate: $out"
pass "host 1's broker admits myapp02's token, and its certificate on TLS with the host's server certificate"

for i in 1 2; do
    out=$(KEYAUTH_REGISTRY=$(host_dir "$i") readme_run fleet-status "${ETCD_SED[@]}" 2>&1) ||
        fail "README fleet-status on host $i: $out"
    expect_contains "$out" "state:         current" "keytool status on host $i"
done
out=$(keytool --registry "$(host_dir 1)" gen other 2>&1) && fail "gen on a replica succeeded"
expect_contains "$out" "--etcd" "gen on a replica"
pass "README: keytool status current and keyauth-sync --check equal on both hosts; gen on a host refused naming --etcd"

readme_run fleet-del "${ETCD_SED[@]}" >del.out 2>&1 || fail "README fleet-del: $(cat del.out)"
expect_eq "$(etcd_ids)" "" "etcd's clients after del"
for i in 1 2; do wait_on_host "$i" refused ./myapp02_token 2; done
if out=$(mosquitto_pub -h 127.0.0.1 -p "$MQTT" --username "$(cat myapp02_token)" -t db/write/EXAMPLE -m x 2>&1); then
    fail "host 1's broker admitted myapp02 after the del"
fi
pass "README: del on the administrator's host refused on both hosts and by host 1's broker"
