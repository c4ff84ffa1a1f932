#!/bin/bash
# keyauth_client_cert on an ssl_verify_client server: a registered, live
# client certificate gets through (HTTP/1.1 and HTTP/2), its id upstream;
# a deleted or replaced one is refused. curl trusts keytool's server-cert
# file: no -k.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
keytool gen myapp03 --output ./old03 >/dev/null
keytool server-cert --output ./server.crt >/dev/null
mkdir -p "$WORK/html/dir"
UP=$(free_port)
TLS=$(free_port)
start_nginx "$(upstream_server "$UP")
    $(certificate_server "$TLS" "$(proxy_naming_client "$UP")
        # a certificate, or loopback; a directory without index: nginx's 403
        location /dir/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            root $WORK/html;
        }
        location /both/ {
            keyauth on;
            proxy_pass http://127.0.0.1:$UP/;
            proxy_set_header X-Client-Id \$keyauth_client_id;
        }")"
expect_contains "$(cat "$NGX_ERROR_LOG")" "HTTP client certificate authentication enabled" "error log at start"

# with CLIENT CURL_ARGS...: one HTTPS request presenting CLIENT's certificate,
# HTTP/1.1 unless the arguments say --http2.
with() {
    local client=$1
    shift
    curl_status_body --http1.1 --cacert ./server.crt \
        --cert "./${client}_cert.pem" --key "./${client}_key.pem" "$@"
}

expect_eq "$(with myapp01 https://localhost:$TLS/db/query)" "200 client=myapp01" "myapp01 over HTTP/1.1"
expect_eq "$(with myapp02 https://127.0.0.1:$TLS/db/query)" "200 client=myapp02" "myapp02 by address"
pass "registered certificates admitted, their id upstream"

out=$(with myapp01 --http2 https://localhost:$TLS/db/query)
expect_eq "$out" "200 client=myapp01" "myapp01 over HTTP/2"
version=$(curl -s -o /dev/null -w '%{http_version}' --http2 --cacert ./server.crt \
          --cert ./myapp01_cert.pem --key ./myapp01_key.pem https://localhost:$TLS/)
expect_eq "$version" "2" "HTTP/2 negotiated"
pass "registered certificate admitted over HTTP/2"

out=$(curl_status_body --cacert ./server.crt https://localhost:$TLS/db/query)
expect_eq "${out%% *}" "400" "no client certificate (nginx's ssl_verify_client)"
pass "no client certificate: 400 from ssl_verify_client"

expect_eq "$(with myapp01 https://localhost:$TLS/both/q -H "Authorization: Bearer `cat ./myapp01_token`")" \
    "200 client=myapp01" "certificate and token of the same client"
expect_eq "$(with myapp01 https://localhost:$TLS/both/q -H "Authorization: Bearer `cat ./myapp02_token`")" \
    "401 $INVALID_TOKEN_BODY" "certificate and token of different clients"
expect_eq "$(with myapp01 https://localhost:$TLS/both/q)" "401 $MISSING_TOKEN_BODY" "certificate, no token"
pass "keyauth and keyauth_client_cert both on: both must name the same client"

keytool gen myapp03 --output ./new03 --force >/dev/null
expect_eq "$(with old03 https://localhost:$TLS/db/query)" "403 $INVALID_CERTIFICATE_BODY" "replaced certificate"
expect_eq "$(with new03 https://localhost:$TLS/db/query)" "200 client=myapp03" "new certificate"
pass "gen --force: the old certificate refused, the new one admitted"

keytool del myapp01 >/dev/null
out=$(curl -s -i --http1.1 --cacert ./server.crt --cert ./myapp01_cert.pem --key ./myapp01_key.pem https://localhost:$TLS/db/query)
expect_contains "$out" "HTTP/1.1 403 Forbidden" "deleted certificate: status"
expect_contains "$out" "Content-Type: application/json" "deleted certificate: content type"
expect_eq "$(tail -n 1 <<<"$out")" "$INVALID_CERTIFICATE_BODY" "deleted certificate: body"
expect_eq "$(with myapp01 --http2 https://localhost:$TLS/db/query)" "403 $INVALID_CERTIFICATE_BODY" "deleted certificate over HTTP/2"
expect_eq "$(with myapp02 https://localhost:$TLS/db/query)" "200 client=myapp02" "the other client after del"
pass "deleted certificate refused at once: 403 invalid certificate"

"$SET_VALIDITY" "$KEYAUTH_REGISTRY" myapp02 -200000 -1
expect_eq "$(with myapp02 https://localhost:$TLS/db/query)" "403 $INVALID_CERTIFICATE_BODY" "expired client"
pass "expired client's certificate refused: 403 invalid certificate"

out=$(with myapp01 https://localhost:$TLS/dir/)
expect_eq "${out%% *}" "403" "refused certificate, allowed address, forbidden directory"
expect_contains "$out" "<html>" "nginx's own 403 page"
pass "satisfy any: once an address rule admits, a later 403 is nginx's, not ours"

expect_contains "$(cat "$NGX_ERROR_LOG")" "keyauth: client certificate refused: unknown client" "refusal logged"
expect_clean_error_log ./myapp01_token ./myapp02_token
pass "error log clean"
