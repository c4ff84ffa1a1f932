#!/bin/bash
# Subrequests skip nginx's access phase, so "keyauth on" in a location
# reached only as a subrequest (an "auth_request" target, an SSI include)
# checks nothing. The first such subrequest makes each worker say so, once
# per location. Where keyauth judged the client's request, no warning.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
UP=$(free_port)
PORT=$(free_port)
WARNING='"keyauth" in location "/auth" checks nothing when a subrequest ("/auth") of location "/api/" reaches it: subrequests skip the access phase; put "keyauth" in location "/api/" itself'

# The error log from line $1 on.
log_from() { tail -n "+$1" "$NGX_ERROR_LOG"; }
log_lines() { [ -f "$NGX_ERROR_LOG" ] && wc -l <"$NGX_ERROR_LOG" || echo 0; }

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
expect_contains "$out" "test is successful" "still a valid configuration"

# What the warning is about: the subrequest admits a request with no token.
from=$(( $(log_lines) + 1 ))
start_nginx "$mistake"
expect_eq "$(curl_status_body http://127.0.0.1:$PORT/api/q)" "200 client=" "no token, through auth_request"
pass "as warned: the auth_request target admitted a request without a token"
for _ in 1 2 3; do curl_status_body http://127.0.0.1:$PORT/api/q >/dev/null; done
stop_nginx
log=$(log_from "$from")
expect_contains "$log" "[warn]" "an auth_request target with keyauth, reached"
expect_contains "$log" "$WARNING" "an auth_request target with keyauth, reached"
[ "$(grep -c 'checks nothing when a subrequest' <<<"$log")" -le 2 ] \
    || fail "warned more than once per worker: $log"
pass "the first subrequest into an auth_request target with keyauth warns, once per worker"

# A prefix location as the target warns too.
from=$(( $(log_lines) + 1 ))
start_nginx "$(upstream_server "$UP")
    server {
        listen 127.0.0.1:$PORT;
        keyauth_registry $KEYAUTH_REGISTRY;
        location /api/ { auth_request /checks/token; proxy_pass http://127.0.0.1:$UP; }
        location /checks/ { keyauth on; return 204; }
        location /checks/open/ { return 204; }
    }"
expect_eq "$(curl_status_body http://127.0.0.1:$PORT/api/q)" "200 client=" "no token, through a prefix target"
stop_nginx
expect_contains "$(log_from "$from")" '"keyauth" in location "/checks/" checks nothing when a subrequest ("/checks/token") of location "/api/"' \
    "a prefix location reached by auth_request"
pass "a prefix location reached by auth_request warns too"

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
from=$(( $(log_lines) + 1 ))
start_nginx "$right"
expect_eq "$(curl_status_body http://127.0.0.1:$PORT/api/q)" "401 $MISSING_TOKEN_BODY" "no token"
expect_eq "$(curl_status_body -H "Authorization: Bearer $(cat ./myapp01_token)" http://127.0.0.1:$PORT/api/q)" \
    "200 client=myapp01" "a token"
stop_nginx
expect_not_contains "$(log_from "$from")" "[warn]" "subrequests of requests keyauth judged"
pass "keyauth in the location asking: no warning, and the token is checked"

expect_clean_error_log ./myapp01_token
