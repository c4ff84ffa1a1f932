#!/bin/bash
# keyauth beside nginx's own access rules: "satisfy any" with allow/deny,
# "keyauth off" opening a sub-location, and subrequests (SSI) acting for the
# main request's client.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
UP=$(free_port)
PORT=$(free_port)
mkdir -p "$WORK/html"
printf 'page: <!--# include virtual="/api/q" -->' >"$WORK/html/page.html"
start_nginx "$(upstream_server "$UP")
    server {
        listen 127.0.0.1:$PORT;
        keyauth_registry $KEYAUTH_REGISTRY;
        keyauth on;
        proxy_set_header X-Client-Id \$keyauth_client_id;

        location /api/ {
            proxy_pass http://127.0.0.1:$UP;
        }
        location /api/public/ {
            keyauth off;
            proxy_pass http://127.0.0.1:$UP;
        }
        # a token, or an address nobody here has
        location /token-or-lan/ {
            satisfy any;
            allow 10.0.0.0/8;
            deny all;
            proxy_pass http://127.0.0.1:$UP;
        }
        # a token, or loopback
        location /token-or-loopback/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /custom/ {
            error_page 401 = @denied;
            proxy_pass http://127.0.0.1:$UP;
        }
        location @denied {
            return 401 'ask for a token\n';
        }
        location = /page.html {
            ssi on;
            root $WORK/html;
        }
    }"
BASE=http://127.0.0.1:$PORT
AUTH="Authorization: Bearer `cat ./myapp01_token`"
BAD="Authorization: Bearer myapp01:b:$(printf '%064x' 3)"

expect_eq "$(curl_status_body $BASE/api/public/q)" "200 client=" "keyauth off sub-location"
expect_eq "$(curl_status_body $BASE/api/q)" "401 $MISSING_TOKEN_BODY" "protected location"
pass "keyauth off opens a sub-location; its parent stays protected"

expect_eq "$(curl_status_body $BASE/token-or-lan/q -H "$AUTH")" "200 client=myapp01" "satisfy any, valid token"
expect_eq "$(curl_status_body $BASE/token-or-lan/q -H "$BAD")" "401 $INVALID_TOKEN_BODY" "satisfy any, bad token, address denied"
out=$(curl -s -i $BASE/token-or-lan/q)
expect_contains "$out" "HTTP/1.1 401 Unauthorized" "satisfy any, no token: status"
expect_contains "$out" 'WWW-Authenticate: Bearer realm="keyauth"' "satisfy any, no token: challenge"
pass "satisfy any: a valid token admits, else 401 with the JSON body"

expect_eq "$(curl_status_body $BASE/token-or-loopback/q -H "$BAD")" "200 client=" "satisfy any, bad token, address allowed"
out=$(curl -s -i $BASE/token-or-loopback/q)
expect_not_contains "$out" "WWW-Authenticate" "satisfy any, allowed address: challenge left over"
pass "satisfy any: an allowed address admits without a token"

expect_eq "$(curl_status_body $BASE/custom/q -H "$BAD")" "401 ask for a token" "error_page 401"
expect_eq "$(curl_status_body $BASE/custom/q -H "$AUTH")" "200 client=myapp01" "error_page 401, valid token"
pass "error_page 401 replaces our body with the operator's"

expect_eq "$(curl_status_body $BASE/page.html -H "$AUTH")" "200 page: client=myapp01" "SSI subrequest"
pass "a subrequest carries the main request's client id"

expect_clean_error_log ./myapp01_token
