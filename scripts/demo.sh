#!/usr/bin/env bash
# The main job, on a fresh Debian 12: installs the packages, builds keyauth,
# and runs a live broker and NGINX on 127.0.0.1 with the plugin and module
# loaded, showing accepted and refused clients, then a revocation.
set -euo pipefail
source "$(dirname "$0")/run_as_root.sh"
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

demo=$(mktemp -d "${TMPDIR:-/tmp}/keyauth-demo.XXXXXX")
chmod 755 "$demo"
export KEYAUTH_REGISTRY=$demo/registry
cd "$demo"
# The tests' own launchers start the servers: as their users, on loopback,
# stopped at exit by their pids. On failure they give the server's own
# words (e.g. "Error: Address already in use"); we add the ports to change.
source "$top/tests/lib/mosquitto.sh"
source "$top/tests/lib/nginx.sh"
cleanups=()
at_exit() { cleanups+=("$1"); }
cleanup() {
    local i
    for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[$i]}" || true; done
}
trap cleanup EXIT
fail() {
    echo "demo: $*" >&2
    echo "demo: ports are MQTT_PORT=$MQTT_PORT MQTTS_PORT=$MQTTS_PORT HTTP_PORT=$HTTP_PORT UPSTREAM_PORT=$UPSTREAM_PORT; set them to others if taken" >&2
    exit 1
}
# Bold commands on a terminal; plain text into pipes and files.
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }
run() { say "$*"; eval "$@" || true; }

echo "== registry in $demo"
# The broker runs as Debian's mosquitto user, NGINX's workers as www-data in
# group mosquitto: the group that may read the registry.
run keytool init --host 127.0.0.1 --host localhost --group mosquitto
run keytool gen myapp01 --output ./myapp01
run keytool server-cert --output ./server.crt
run keytool list

echo
echo "== Mosquitto with mosquitto_keyauth.so (token on $MQTT_PORT, X.509 on $MQTTS_PORT)"
mosquitto_conf --log-types "error warning notice information" "per_listener_settings false" \
    "$(mosquitto_plugin "$plugin" "$KEYAUTH_REGISTRY")" \
    "$(mosquitto_listener "$MQTT_PORT")" \
    "$(mosquitto_listener "$MQTTS_PORT")" "$(mosquitto_tls "$KEYAUTH_REGISTRY")" >mosquitto.conf
mosquitto_start mosquitto.conf mosquitto.log
grep keyauth mosquitto.log | sed 's/^/    broker log: /'

echo
echo "== NGINX with ngx_http_keyauth_module.so on $HTTP_PORT, upstream on $UPSTREAM_PORT"
nginx_conf "$demo/nginx" --module "$module" --user "www-data mosquitto" --log-level notice "
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
        location / { return 200 '{\"success\":true,\"client\":\"\$http_x_client_id\"}\\n'; }
    }"
nginx_start "$demo/nginx"
grep -h "authentication enabled" nginx/logs/error.log | sed 's/^/    nginx log: /'

echo
echo "== accepted"
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" --username "$(cat ./myapp01_token)" \
    -t 'db/#' -v >subscriber.out 2>&1 &
at_exit "kill $! 2>/dev/null"
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
