#!/bin/bash
# The same contract over HTTP/2 (TLS, ALPN h2): a valid token gets through, a
# bad one gets the seed's 401, on one multiplexed connection.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool server-cert --output ./server.crt >/dev/null
UP=$(free_port)
H2=$(free_port)
start_nginx "$(upstream_server "$UP")
    server {
        listen 127.0.0.1:$H2 ssl http2;
        ssl_certificate $KEYAUTH_REGISTRY/server_cert.pem;
        ssl_certificate_key $KEYAUTH_REGISTRY/server_key.pem;
        keyauth_registry $KEYAUTH_REGISTRY;
        keyauth on;
        location / {
            proxy_pass http://127.0.0.1:$UP;
            proxy_set_header X-Client-Id \$keyauth_client_id;
        }
    }"
URL=https://localhost:$H2/db/query

out=$(curl -s --http2 --cacert ./server.crt -w '%{http_version}' "$URL" -H "Authorization: Bearer `cat ./myapp01_token`")
expect_eq "$out" "client=myapp01
2" "valid token over HTTP/2"
out=$(curl -s --http2 --cacert ./server.crt "$URL" --data-urlencode "q=select 1" -H "Authorization: Bearer `cat ./myapp01_token`")
expect_eq "$out" "client=myapp01" "POST with a valid token over HTTP/2"
pass "HTTP/2: valid token, id upstream (GET and POST)"

out=$(curl -s -i --http2 --cacert ./server.crt "$URL" -H "Authorization: Bearer myapp01:b:$(printf '%064x' 1)")
expect_contains "$out" "HTTP/2 401" "HTTP/2 bad token: status"
expect_contains "$out" "content-type: application/json" "HTTP/2 bad token: content type"
expect_contains "$out" 'www-authenticate: Bearer realm="keyauth", error="invalid_token"' "HTTP/2 bad token: challenge"
expect_eq "$(tail -n 1 <<<"$out")" "$INVALID_TOKEN_BODY" "HTTP/2 bad token: body"
pass "HTTP/2: bad token, 401 with the seed's body"

# (No refused POST here: nginx resets the stream of a request body it did not
# read, as after any early answer (auth_basic's too), and curl 7.88 then may
# report error 92.)
out=$(curl -s -v --http2 --cacert ./server.crt "$URL" \
      --next --http2 --cacert ./server.crt -I "$URL" -H "Authorization: Bearer myapp01:b:" \
      --next --http2 --cacert ./server.crt "$URL" -H "Authorization: Bearer `cat ./myapp01_token`" 2>"$WORK/trace")
expect_contains "$out" "$MISSING_TOKEN_BODY" "HTTP/2 GET without token"
expect_contains "$out" "HTTP/2 401" "HTTP/2 HEAD with a malformed token"
expect_contains "$out" "content-length: ${#INVALID_TOKEN_BODY}" "HTTP/2 HEAD: length"
expect_contains "$out" "client=myapp01" "HTTP/2 after refusals"
expect_contains "$(cat "$WORK/trace")" "Re-using existing connection" "one HTTP/2 connection"
pass "HTTP/2: refused GET and HEAD, then a valid request, on one connection"

expect_clean_error_log ./myapp01_token
