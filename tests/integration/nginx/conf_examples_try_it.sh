#!/bin/bash
# conf-examples/nginx works as it is: try-it.sh runs nginx with the example
# files and shows the seed's accepted and refused requests, and the counts
# keyauth_status gives of them.
source "$(dirname "$0")/nginx_lib.sh"

out=$(NGINX_BIN=$(sanitized_nginx_program) bash "$NGINX_TESTS/../../../conf-examples/nginx/try-it.sh" 2>&1) \
    || fail "try-it.sh failed: $out"
echo "$out"
expect_contains "$out" "HTTP token authentication enabled" "start message"
expect_contains "$out" "HTTP client certificate authentication enabled" "start message"
expect_contains "$out" '{"success":true,"client":"myapp01"} (HTTP 200)' "accepted token"
expect_contains "$out" "$MISSING_TOKEN_BODY (HTTP 401)" "missing token"
expect_contains "$out" "$INVALID_TOKEN_BODY (HTTP 401)" "forged token"
expect_contains "$out" "$INVALID_CERTIFICATE_BODY (HTTP 403)" "deleted certificate"
expect_contains "$out" '{"success":true,"client":""} (HTTP 200)' "a client's X-Client-Id at /healthz"
expect_not_contains "$out" '"client":"admin"' "a client's X-Client-Id at /healthz"
expect_eq "$(grep -c '(HTTP 200)' <<<"$out")" "3" "accepted requests (token, healthz, certificate)"
# The forged secret's line; the deleted token's refusal of the same id
# follows inside its minute, counted under the same key (no line that would
# tell a guesser the id was registered).
expect_contains "$out" 'keyauth: token of client "myapp01" refused: credential does not match' "refusal logged"
expect_contains "$out" 'keyauth_nginx_requests_total{verdict="accepted",credential="token"} 1' "status: accepted token"
expect_contains "$out" 'keyauth_nginx_requests_total{verdict="accepted",credential="certificate"} 1' "status: accepted certificate"
expect_contains "$out" 'keyauth_nginx_requests_total{verdict="unknown_client",credential="token"} 2' "status: the forged secret and the deleted token"
expect_contains "$out" 'keyauth_nginx_requests_total{verdict="unknown_client",credential="certificate"} 1' "status: deleted certificate"
pass "conf-examples/nginx/try-it.sh: accepted and refused as the seed shows"
expect_no_sanitizer_reports
