#!/bin/bash
# A verdict reached before the access phase ($keyauth_client_id read by a
# server-level "set", or in a location that rewrites into another) holds only
# for the checks of the location it was reached under: a location that also
# requires a client certificate judges again, so a token alone never gets in
# there by way of an early verdict.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool server-cert --output ./server.crt >/dev/null
UP=$(free_port)
TLS=$(free_port)
start_nginx "$(upstream_server "$UP")
$(tls_server "$TLS" optional "
        keyauth on;
        set \$early \$keyauth_client_id;

        location / {
            proxy_pass http://127.0.0.1:$UP;
            proxy_set_header X-Client-Id \$keyauth_client_id;
        }
        location /admin/ {
            keyauth_client_cert on;
            proxy_pass http://127.0.0.1:$UP;
            proxy_set_header X-Client-Id \$keyauth_client_id;
        }
        location /to-admin/ {
            keyauth off;
            set \$again \$keyauth_client_id;
            rewrite ^ /admin/q last;
        }
        location /token-to-admin/ {
            set \$again \$keyauth_client_id;
            rewrite ^ /admin/q last;
        }")"

token="Authorization: Bearer $(cat ./myapp01_token)"
# with_cert URL CURL_ARGS...: presenting myapp01's certificate too.
with_cert() {
    local url=$1
    shift
    curl_status_body --cacert ./server.crt --cert ./myapp01_cert.pem --key ./myapp01_key.pem "$url" "$@"
}
without_cert() {
    local url=$1
    shift
    curl_status_body --cacert ./server.crt "$url" "$@"
}

expect_eq "$(without_cert "https://localhost:$TLS/db/query" -H "$token")" "200 client=myapp01" \
    "token alone where only a token is asked"
pass "a token alone admitted where the server's checks are all"

status=$(without_cert "https://localhost:$TLS/admin/q" -H "$token")
expect_eq "${status%% *}" "403" "token alone, certificate location, early verdict under the server's checks"
expect_eq "$(with_cert "https://localhost:$TLS/admin/q" -H "$token")" "200 client=myapp01" \
    "token and certificate, certificate location"
pass "the server-level early verdict is not taken for a location asking a certificate too"

status=$(without_cert "https://localhost:$TLS/token-to-admin/x" -H "$token")
expect_eq "${status%% *}" "403" "token alone, rewritten into the certificate location"
expect_eq "$(with_cert "https://localhost:$TLS/token-to-admin/x" -H "$token")" "200 client=myapp01" \
    "token and certificate, rewritten into the certificate location"
pass "a location's early verdict is not taken after a rewrite into another location"

status=$(without_cert "https://localhost:$TLS/to-admin/x" -H "$token")
expect_eq "${status%% *}" "403" "token alone, from a location without checks into the certificate location"
pass "nothing early admits into a location asking a certificate"
