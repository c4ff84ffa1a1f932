#!/bin/bash
# Subrequests skip nginx's access phase, so "keyauth on" in a location
# reached only as a subrequest checks nothing. nginx -t warns where it can
# see it: an "auth_request" target with keyauth on, asked for by a location
# without it. Where the asking location checks its own requests, no warning.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
UP=$(free_port)
PORT=$(free_port)
WARNING='"keyauth" in location "/auth" checks nothing when "auth_request /auth" of location "/api/" reaches it: subrequests skip the access phase; put "keyauth" in location "/api/" itself'

# The mistake: the token is expected to be checked by the auth_request target.
mistake="$(upstream_server "$UP")
    server {
        listen 127.0.0.1:$PORT;
        keyauth_registry $KEYAUTH_REGISTRY;

        location /api/ {
            auth_request /auth;
            proxy_pass http://127.0.0.1:$UP;
        }
        location = /auth {
            keyauth on;
            return 204;
        }
    }"
out=$(nginx_test "$mistake") || fail "nginx -t refused it: $out"
expect_contains "$out" "[warn]" "nginx -t on an auth_request target with keyauth"
expect_contains "$out" "$WARNING" "nginx -t on an auth_request target with keyauth"
expect_contains "$out" "test is successful" "still a valid configuration"
pass "nginx -t warns: keyauth in an auth_request target checks nothing"

# What the warning is about: the subrequest admits a request with no token.
start_nginx "$mistake"
expect_eq "$(curl_status_body http://127.0.0.1:$PORT/api/q)" "200 client=" "no token, through auth_request"
stop_nginx
pass "as warned: the auth_request target admitted a request without a token"

# A prefix location as the target warns too.
out=$(nginx_test "
    server {
        listen 127.0.0.1:$PORT;
        keyauth_registry $KEYAUTH_REGISTRY;
        location /api/ { auth_request /checks/token; return 200; }
        location /checks/ { keyauth on; return 204; }
        location /checks/open/ { return 204; }
    }") || fail "nginx -t refused it: $out"
expect_contains "$out" '"keyauth" in location "/checks/" checks nothing when "auth_request /checks/token" of location "/api/"' \
    "a prefix location reached by auth_request"
pass "nginx -t warns for a prefix location reached by auth_request"

# Checked where the request arrives: nothing to warn about, and it checks.
right="$(upstream_server "$UP")
    server {
        listen 127.0.0.1:$PORT;
        keyauth_registry $KEYAUTH_REGISTRY;
        keyauth on;

        location /api/ {
            auth_request /auth;
            proxy_pass http://127.0.0.1:$UP;
            proxy_set_header X-Client-Id \$keyauth_client_id;
        }
        location = /auth {
            return 204;
        }
        location /open/ {
            keyauth off;
            auth_request /elsewhere;
            return 200;
        }
    }"
out=$(nginx_test "$right") || fail "nginx -t refused it: $out"
expect_not_contains "$out" "[warn]" "nginx -t with keyauth in the asking location"
start_nginx "$right"
expect_eq "$(curl_status_body http://127.0.0.1:$PORT/api/q)" "401 $MISSING_TOKEN_BODY" "no token"
expect_eq "$(curl_status_body -H "Authorization: Bearer $(cat ./myapp01_token)" http://127.0.0.1:$PORT/api/q)" \
    "200 client=myapp01" "a token"
pass "keyauth in the location asking: no warning, and the token is checked"

expect_clean_error_log ./myapp01_token
