#!/bin/bash
# Starts the distribution's Mosquitto on loopback with keyauth.conf and
# keyauth-tls.conf as they are (only the ports, the registry and the plugin
# path moved somewhere temporary) and shows accepted and refused clients.
#
#   sudo conf-examples/mosquitto/try-it.sh [BUILD-DIR]     (default: ./build)
#
# Run it as root, as the broker's service is: Mosquitto drops to the
# mosquitto user before it loads the plugin.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
plugin=$(realpath "${PLUGIN:-$build/mosquitto-plugin/mosquitto_keyauth.so}")
keytool=$(realpath "${KEYTOOL:-$build/keytool/keytool}")
[ "$(id -u)" -eq 0 ] || { echo "run me as root (sudo)" >&2; exit 1; }

demo=$(mktemp -d /tmp/keyauth-mosquitto.XXXXXX)
chmod 755 "$demo"
broker=""
cleanup() {
    [ -z "$broker" ] || { kill "$broker" 2>/dev/null; wait "$broker" 2>/dev/null || true; }
    rm -rf "$demo"
}
trap cleanup EXIT
cd "$demo"
# The broker loads the plugin as the mosquitto user, who may not see into
# the build tree.
install -m 644 "$plugin" ./mosquitto_keyauth.so

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
token_port=$(free_port)
tls_port=$(free_port)
while [ "$tls_port" == "$token_port" ]; do tls_port=$(free_port); done

export KEYAUTH_REGISTRY=$demo/registry
show() { echo "\$ $*"; }

show keytool init --host 127.0.0.1 --host localhost --group mosquitto
"$keytool" init --host 127.0.0.1 --host localhost --group mosquitto
show keytool gen myapp01 --output ./myapp01
"$keytool" gen myapp01 --output ./myapp01
"$keytool" server-cert --output ./server.crt >/dev/null

sed -e "s|/var/lib/keyauth|$KEYAUTH_REGISTRY|g" \
    -e "s|^plugin /.*|plugin $demo/mosquitto_keyauth.so|" \
    -e "s|^listener 1883 |listener $token_port |" \
    -e "s|^listener 8883\$|listener $tls_port 127.0.0.1|" \
    "$here/keyauth.conf" "$here/keyauth-tls.conf" >mosquitto.conf
/usr/sbin/mosquitto -c mosquitto.conf >broker.log 2>&1 &
broker=$!
for port in "$token_port" "$tls_port"; do
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
        kill -0 "$broker" 2>/dev/null || { cat broker.log; exit 1; }
        sleep 0.05
    done
done
grep "keyauth:" broker.log

message='[ "wave.pi", 1675851592000000000, 3.1415]'
# try "AS-TYPED" COMMAND...: shows the command as a user types it, runs it.
try() {
    echo "\$ $1"
    shift
    if "$@" 2>&1; then echo "accepted"; fi
}
token_pub="mosquitto_pub -h 127.0.0.1 -p $token_port"
tls_pub="mosquitto_pub -h localhost -p $tls_port"
echo
echo "== a registered token, then no token and a forged one"
try "$token_pub --username \"\$(cat ./myapp01_token)\" -t db/write/EXAMPLE -m '...'" \
    $token_pub --username "$(cat ./myapp01_token)" -t db/write/EXAMPLE -m "$message"
try "$token_pub -t db/write/EXAMPLE -m '...'" \
    $token_pub -t db/write/EXAMPLE -m "$message"
forged="myapp01:b:$(printf '0%.0s' $(seq 64))"
try "$token_pub --username $forged -t db/write/EXAMPLE -m '...'" \
    $token_pub --username "$forged" -t db/write/EXAMPLE -m "$message"
echo
echo "== its certificate on TLS (no --insecure), then under another client id"
for id in myapp01 someone-else; do
    try "$tls_pub --id $id --cert ./myapp01_cert.pem --key ./myapp01_key.pem --cafile ./server.crt -t db/append/EXAMPLE -m '...'" \
        $tls_pub --id "$id" --cert ./myapp01_cert.pem --key ./myapp01_key.pem \
        --cafile ./server.crt -t db/append/EXAMPLE -m "$message"
done
echo
echo "== after keytool del, the same token"
show keytool del myapp01
"$keytool" del myapp01
try "$token_pub --username \"\$(cat ./myapp01_token)\" -t db/write/EXAMPLE -m '...'" \
    $token_pub --username "$(cat ./myapp01_token)" -t db/write/EXAMPLE -m "$message"
echo
echo "== what the broker logged"
grep -E "keyauth:|New client connected" broker.log
