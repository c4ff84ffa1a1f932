#!/usr/bin/env bash
# The main job, on a fresh Debian 12: installs the packages, builds keyauth,
# and runs a live broker and NGINX on 127.0.0.1 with the plugin and module
# loaded, showing accepted and refused clients, then a revocation.
set -euo pipefail
# Root is needed (packages, servers that drop to their own users): as root it
# runs as it is; elsewhere it asks sudo, where there is one.
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "${0##*/}: run as root" >&2; exit 1; }
    exec sudo -E "$0" "$@"
fi
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-packages.sh"
echo "== building"
"$top/scripts/build.sh" "$top/build" >/dev/null

build=$top/build
keytool() { "$build/keytool/keytool" "$@"; }
plugin=$build/mosquitto-plugin/mosquitto_keyauth.so
module=$build/nginx-module/ngx_http_keyauth_module.so
# Ports no common server uses by default (the seed's 5653-5656 are a time-series
# database's own); each can be overridden from the environment.
MQTT_PORT=${MQTT_PORT:-41883}
MQTTS_PORT=${MQTTS_PORT:-48883}
HTTP_PORT=${HTTP_PORT:-41080}
UPSTREAM_PORT=${UPSTREAM_PORT:-41081}

demo=$(mktemp -d /tmp/keyauth-demo.XXXXXX)
chmod 755 "$demo"
export KEYAUTH_REGISTRY=$demo/registry
cd "$demo"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$demo/nginx/nginx.pid" ] && kill "$(cat "$demo/nginx/nginx.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
# Bold commands on a terminal; plain text into pipes and files.
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }
run() { say "$*"; eval "$@" || true; }

# The broker is up when it says so in its log, not when something answers on
# its port (that may be another server); if it died, its own words say why
# (e.g. "Error: Address already in use").
wait_for_broker() {  # wait_for_broker PID LOG
    for _ in $(seq 200); do
        grep -q ' running$' "$2" && return 0
        if ! kill -0 "$1" 2>/dev/null; then
            echo "demo: mosquitto did not start; it said:" >&2
            sed 's/^/    /' "$2" >&2
            echo "demo: ports are MQTT_PORT=$MQTT_PORT MQTTS_PORT=$MQTTS_PORT HTTP_PORT=$HTTP_PORT UPSTREAM_PORT=$UPSTREAM_PORT; set them to others if taken" >&2
            exit 1
        fi
        sleep 0.05
    done
    echo "demo: mosquitto did not start within 10 s" >&2
    exit 1
}

echo "== registry in $demo"
# The broker runs as Debian's mosquitto user, NGINX's workers as www-data in
# group mosquitto: the group that may read the registry.
run keytool init --host 127.0.0.1 --host localhost --group mosquitto
run keytool gen myapp01 --output ./myapp01
run keytool server-cert --output ./server.crt
run keytool list

echo
echo "== Mosquitto with mosquitto_keyauth.so (token on $MQTT_PORT, X.509 on $MQTTS_PORT)"
cat >mosquitto.conf <<CONF
user mosquitto
per_listener_settings false
log_dest file $demo/mosquitto.log
plugin $plugin
plugin_opt_registry $KEYAUTH_REGISTRY
listener $MQTT_PORT 127.0.0.1
listener $MQTTS_PORT 127.0.0.1
cafile $KEYAUTH_REGISTRY/ca_cert.pem
certfile $KEYAUTH_REGISTRY/server_cert.pem
keyfile $KEYAUTH_REGISTRY/server_key.pem
require_certificate true
CONF
touch mosquitto.log && chown mosquitto mosquitto.log
/usr/sbin/mosquitto -c mosquitto.conf &
pids+=($!)
wait_for_broker "$!" mosquitto.log
grep keyauth mosquitto.log | sed 's/^/    broker log: /'

echo
echo "== NGINX with ngx_http_keyauth_module.so on $HTTP_PORT, upstream on $UPSTREAM_PORT"
mkdir -p nginx/logs
cat >nginx/nginx.conf <<CONF
load_module $module;
user www-data mosquitto;
worker_processes 2;
pid $demo/nginx/nginx.pid;
error_log $demo/nginx/logs/error.log notice;
events {}
http {
    access_log off;
    keyauth_registry $KEYAUTH_REGISTRY;
    server {
        listen 127.0.0.1:$HTTP_PORT;
        location /db/ {
            keyauth on;
            proxy_set_header X-Client-Id \$keyauth_client_id;
            proxy_pass http://127.0.0.1:$UPSTREAM_PORT;
        }
    }
    server {
        listen 127.0.0.1:$UPSTREAM_PORT;
        default_type application/json;
        location / { return 200 '{"success":true,"client":"\$http_x_client_id"}\n'; }
    }
}
CONF
# nginx reports a failed bind itself, on stderr, before it detaches.
if ! /usr/sbin/nginx -p "$demo/nginx" -c nginx.conf; then
    echo "demo: nginx did not start (its words above); ports are HTTP_PORT=$HTTP_PORT UPSTREAM_PORT=$UPSTREAM_PORT" >&2
    exit 1
fi
grep -h "authentication enabled" nginx/logs/error.log | sed 's/^/    nginx log: /'

echo
echo "== accepted"
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" --username "$(cat ./myapp01_token)" \
    -t 'db/#' -v >subscriber.out 2>&1 &
subscriber=$!
pids+=($subscriber)
sleep 0.5
run 'mosquitto_pub -h 127.0.0.1 -p '"$MQTT_PORT"' --username "$(cat ./myapp01_token)" -t db/write/EXAMPLE -m '"'"'[ "wave.pi", 1675851592000000000, 3.1415]'"'"' && echo published'
run 'mosquitto_pub -h 127.0.0.1 -p '"$MQTTS_PORT"' --id myapp01 --cert ./myapp01_cert.pem --key ./myapp01_key.pem --cafile ./server.crt -t db/append/EXAMPLE -m "[ \"wave.pi\", 1675851592000000000, 3.1415]" && echo published over TLS'
run 'curl -s http://127.0.0.1:'"$HTTP_PORT"'/db/query --data-urlencode "q=select 1" -H "Authorization: Bearer `cat ./myapp01_token`"'
sleep 0.3
echo "    the live subscriber received:"
sed 's/^/      /' subscriber.out

echo
echo "== refused"
run 'mosquitto_pub -h 127.0.0.1 -p '"$MQTT_PORT"' --username "myapp01:b:0000000000000000000000000000000000000000000000000000000000000000" -t db/write/EXAMPLE -m x'
run 'mosquitto_pub -h 127.0.0.1 -p '"$MQTTS_PORT"' --id someone-else --cert ./myapp01_cert.pem --key ./myapp01_key.pem --cafile ./server.crt -t db/append/EXAMPLE -m x'
run 'curl -s -i -w "\n" http://127.0.0.1:'"$HTTP_PORT"'/db/query -H "Authorization: Bearer wrong"'

echo
echo "== revoked: keytool del, no reload"
run keytool del myapp01
sleep 1
echo "    within a second the broker dropped myapp01's live subscriber:"
grep 'keyauth: disconnecting' mosquitto.log | sed 's/^/      broker log: /'
run 'mosquitto_pub -h 127.0.0.1 -p '"$MQTT_PORT"' --username "$(cat ./myapp01_token)" -t db/write/EXAMPLE -m x'
run 'curl -s -w " (HTTP %{http_code})\n" http://127.0.0.1:'"$HTTP_PORT"'/db/query -H "Authorization: Bearer `cat ./myapp01_token`"'
echo
echo "demo done; files in $demo"
