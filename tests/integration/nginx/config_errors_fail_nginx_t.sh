#!/bin/bash
# nginx -t says clearly what is wrong with a keyauth configuration, and
# accepts a right one.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
PORT=$(free_port)

expect_nginx_t_fails "missing registry" \
    "keyauth registry \"$WORK/nowhere\" not found" \
    "server { listen 127.0.0.1:$PORT; keyauth_registry $WORK/nowhere; keyauth on; }"
pass "nginx -t: a missing registry"

expect_nginx_t_fails "registry is a file" \
    "keyauth registry \"$KEYAUTH_REGISTRY/ca_cert.pem\" is not a directory" \
    "server { listen 127.0.0.1:$PORT; keyauth_registry $KEYAUTH_REGISTRY/ca_cert.pem; }"
pass "nginx -t: a registry that is not a directory"

mkdir "$WORK/empty"
expect_nginx_t_fails "a directory that is no registry" \
    "keyauth registry \"$WORK/empty\" cannot be used: registry $WORK/empty has no data.mdb (run keytool init)" \
    "server { listen 127.0.0.1:$PORT; keyauth_registry $WORK/empty; keyauth on; }"
[ ! -e "$WORK/empty/lock.mdb" ] || fail "nginx -t created files in the registry"
pass "nginx -t: a directory that is not a registry"

# A directory above the registry that www-data owns: PHP-FPM or a web app
# running as www-data could rename the registry away and put its own there.
mkdir "$WORK/webroot"
cp -a "$KEYAUTH_REGISTRY" "$WORK/webroot/registry"
chown www-data "$WORK/webroot"
expect_nginx_t_fails "a registry under a directory www-data owns" \
    "keyauth registry \"$WORK/webroot/registry\" cannot be used: registry $WORK/webroot/registry: $WORK/webroot is owned by another user (uid $(id -u www-data)), who could replace the registry" \
    "server { listen 127.0.0.1:$PORT; keyauth_registry $WORK/webroot/registry; keyauth on; }"
chown root "$WORK/webroot"
chmod 0777 "$WORK/webroot"
expect_nginx_t_fails "a registry under a directory anyone may write" \
    "$WORK/webroot is writable by its group or others, who could replace the registry: run chmod go-w $WORK/webroot" \
    "server { listen 127.0.0.1:$PORT; keyauth_registry $WORK/webroot/registry; keyauth on; }"
pass "nginx -t: a registry under a directory others may write"

# A registry www-data owns: its workers (and PHP-FPM beside them) could
# write it. (The registry's own checks pass: only its owner writes it.)
chmod 0755 "$WORK/webroot"
chown -R www-data "$WORK/webroot/registry"
expect_nginx_t_fails "a registry the workers' user owns" \
    "registry $WORK/webroot/registry is owned by www-data (uid $(id -u www-data)), a server's user, who could then write it" \
    "server { listen 127.0.0.1:$PORT; keyauth_registry $WORK/webroot/registry; keyauth on; }"
pass "nginx -t: a registry the workers' user owns"

expect_nginx_t_fails "a grace that is no time" \
    '"keyauth_registry_error_grace" directive invalid value' \
    "keyauth_registry_error_grace soon;"
expect_nginx_t_fails "a grace in a server" \
    '"keyauth_registry_error_grace" directive is not allowed here' \
    "server { listen 127.0.0.1:$PORT; keyauth_registry_error_grace 5s; }"
pass "nginx -t: keyauth_registry_error_grace takes a time, in http"

expect_nginx_t_fails "keyauth on without a registry" \
    '"keyauth" is on in location "/api/" but its server has no "keyauth_registry"' \
    "server { listen 127.0.0.1:$PORT; location /api/ { keyauth on; } }"
pass "nginx -t: keyauth on without keyauth_registry"

expect_nginx_t_fails "keyauth_client_cert without ssl_verify_client" \
    '"keyauth_client_cert" is on in location "/" but its server has no "ssl_verify_client"' \
    "server { listen 127.0.0.1:$PORT; keyauth_registry $KEYAUTH_REGISTRY;
              location / { keyauth_client_cert on; } }"
pass "nginx -t: keyauth_client_cert without ssl_verify_client"

expect_nginx_t_fails "bad flag" \
    'invalid value "maybe" in "keyauth" directive, it must be "on" or "off"' \
    "server { listen 127.0.0.1:$PORT; keyauth_registry $KEYAUTH_REGISTRY; keyauth maybe; }"
expect_nginx_t_fails "registry in a location" \
    '"keyauth_registry" directive is not allowed here' \
    "server { listen 127.0.0.1:$PORT; location / { keyauth_registry $KEYAUTH_REGISTRY; } }"
expect_nginx_t_fails "two registries in one server" \
    '"keyauth_registry" directive is duplicate' \
    "server { listen 127.0.0.1:$PORT; keyauth_registry $KEYAUTH_REGISTRY; keyauth_registry $KEYAUTH_REGISTRY; }"
expect_nginx_t_fails "keyauth_status with an argument" \
    'invalid number of arguments in "keyauth_status" directive' \
    "server { listen 127.0.0.1:$PORT; location = /keyauth_status { keyauth_status on; } }"
expect_nginx_t_fails "keyauth_status in a server" \
    '"keyauth_status" directive is not allowed here' \
    "server { listen 127.0.0.1:$PORT; keyauth_status; }"
pass "nginx -t: misused directives"

out=$(nginx_test "keyauth_registry $KEYAUTH_REGISTRY;
    keyauth on;
    server { listen 127.0.0.1:$PORT; location /public/ { keyauth off; } }
    server { listen 127.0.0.1:$(free_port); keyauth off; }") \
    || fail "nginx -t refused a right configuration: $out"
expect_contains "$out" "test is successful" "nginx -t"
pass "nginx -t: registry and keyauth at http level, off in a server and a location"
