#!/bin/bash
# Starts the distribution's nginx on loopback with keyauth-proxy.conf,
# keyauth-grpc-tls.conf and keyauth-status.conf as they are (only the ports,
# the registry and the module path moved somewhere temporary), in front of a
# small stand-in API, and shows accepted and refused requests, and their
# counts.
#
#   sudo conf-examples/nginx/try-it.sh [BUILD-DIR]     (default: ./build)
#
# Run it as root, as nginx's service is: its workers run as www-data.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
module=$(realpath "${NGINX_MODULE:-$build/nginx-module/ngx_http_keyauth_module.so}")
keytool=$(realpath "${KEYTOOL:-$build/keytool/keytool}")
nginx=${NGINX_BIN:-/usr/sbin/nginx}
[ "$(id -u)" -eq 0 ] || { echo "run me as root (sudo)" >&2; exit 1; }

demo=$(mktemp -d /tmp/keyauth-nginx.XXXXXX)
chmod 755 "$demo"
cleanup() {
    [ -f "$demo/nginx.pid" ] && kill -QUIT "$(cat "$demo/nginx.pid")" 2>/dev/null
    sleep 0.2
    rm -rf "$demo"
}
trap cleanup EXIT
cd "$demo"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
http_port=$(free_port)
tls_port=$(free_port)
api_port=$(free_port)
status_port=$(free_port)

export KEYAUTH_REGISTRY=$demo/registry
show() { echo "\$ $*"; }

show keytool init --host 127.0.0.1 --host localhost --group www-data
"$keytool" init --host 127.0.0.1 --host localhost --group www-data
show keytool gen myapp01 --output ./myapp01
"$keytool" gen myapp01 --output ./myapp01
"$keytool" server-cert --output ./server.crt >/dev/null

for conf in keyauth-proxy.conf keyauth-grpc-tls.conf keyauth-status.conf; do
    sed -e "s|/var/lib/keyauth|$KEYAUTH_REGISTRY|g" \
        -e "s|listen 127.0.0.1:5654;|listen 127.0.0.1:$http_port;|" \
        -e "s|listen 5655 ssl http2;|listen 127.0.0.1:$tls_port ssl http2;|" \
        -e "s|127.0.0.1:15654|127.0.0.1:$api_port|" \
        -e "s|listen 127.0.0.1:9145;|listen 127.0.0.1:$status_port;|" \
        "$here/$conf" >"$conf"
done
sed -e "s|modules/ngx_http_keyauth_module.so|$module|" "$here/mod-http-keyauth.conf" >nginx.conf
cat >>nginx.conf <<CONF
user www-data;
worker_processes 2;
pid $demo/nginx.pid;
# info: refusals are logged there, with the client id and the reason
error_log $demo/error.log info;
events {}
http {
    access_log off;
    client_body_temp_path $demo/body;
    proxy_temp_path $demo/proxy;
    fastcgi_temp_path $demo/fastcgi;
    uwsgi_temp_path $demo/uwsgi;
    scgi_temp_path $demo/scgi;

    include $demo/keyauth-proxy.conf;
    include $demo/keyauth-grpc-tls.conf;
    include $demo/keyauth-status.conf;

    # the stand-in API: says which client reached it
    server {
        listen 127.0.0.1:$api_port;
        location / {
            return 200 "{\"success\":true,\"client\":\"\$http_x_client_id\"}";
        }
    }
}
CONF
"$nginx" -p "$demo" -c nginx.conf -g 'daemon on;'
for port in "$http_port" "$tls_port" "$api_port" "$status_port"; do
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
        sleep 0.05
    done
done
grep "authentication enabled" error.log

# try "AS-TYPED" COMMAND...: shows the command as a user types it, runs it.
try() {
    echo "\$ $1"
    shift
    "$@" -s -w ' (HTTP %{http_code})\n' || true
}
query="http://127.0.0.1:$http_port/db/query"
echo
echo "== a registered token, then no token and a forged one"
try "curl $query --data-urlencode \"q=select 1\" -H \"Authorization: Bearer \`cat ./myapp01_token\`\"" \
    curl "$query" --data-urlencode "q=select 1" -H "Authorization: Bearer $(cat ./myapp01_token)"
try "curl $query --data-urlencode \"q=select 1\"" \
    curl "$query" --data-urlencode "q=select 1"
forged="myapp01:b:$(printf '0%.0s' $(seq 64))"
try "curl $query --data-urlencode \"q=select 1\" -H \"Authorization: Bearer $forged\"" \
    curl "$query" --data-urlencode "q=select 1" -H "Authorization: Bearer $forged"
echo
echo "== the open /healthz: a client's own X-Client-Id does not reach the API"
health="http://127.0.0.1:$http_port/healthz"
try "curl $health -H \"X-Client-Id: admin\"" curl "$health" -H "X-Client-Id: admin"
echo
echo "== its certificate over HTTPS (no -k)"
tls_query="https://localhost:$tls_port/db/query"
try "curl $tls_query --cert ./myapp01_cert.pem --key ./myapp01_key.pem --cacert ./server.crt" \
    curl "$tls_query" --cert ./myapp01_cert.pem --key ./myapp01_key.pem --cacert ./server.crt
echo
echo "== after keytool del, the same token and certificate"
show keytool del myapp01
"$keytool" del myapp01
try "curl $query --data-urlencode \"q=select 1\" -H \"Authorization: Bearer \`cat ./myapp01_token\`\"" \
    curl "$query" --data-urlencode "q=select 1" -H "Authorization: Bearer $(cat ./myapp01_token)"
try "curl $tls_query --cert ./myapp01_cert.pem --key ./myapp01_key.pem --cacert ./server.crt" \
    curl "$tls_query" --cert ./myapp01_cert.pem --key ./myapp01_key.pem --cacert ./server.crt
echo
echo "== keyauth_status (keyauth-status.conf): the verdicts so far, over both workers"
status="http://127.0.0.1:$status_port/metrics"
show "curl -s $status | grep -v ' 0\$'"
curl -s "$status" | grep -v ' 0$'
echo
echo "== what nginx logged"
grep -E "keyauth|authentication enabled" error.log | sed 's/^[0-9/]* [0-9:]* //'
