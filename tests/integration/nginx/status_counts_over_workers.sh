#!/bin/bash
# keyauth_status: Prometheus text with the verdicts of every worker summed,
# by verdict and credential, and their verification caches' hits and
# misses; a reload keeps the counts; a WebSocket cut by
# "keytool del" is counted; the registry's commit sequence moves with a
# commit; an unreadable registry shows as down, its refusals counted. Two
# workers, reuseport: the requests land on both.
source "$(dirname "$0")/nginx_lib.sh"
source "$NGINX_TESTS/streams_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
keytool gen myapp03 --output ./myapp03 >/dev/null
start_upstream ws-echo
API=$(free_port)
PORT=$(free_port)
start_nginx "$(upstream_server "$API") $(token_server "$PORT" "
        add_header X-Worker \$pid always;

        location / {
            proxy_pass http://127.0.0.1:$API;
        }
$(websocket_location)
        location = /keyauth_status {
            keyauth off;
            allow 127.0.0.1;
            deny all;
            keyauth_status;
        }")"
STATUS=http://127.0.0.1:$PORT/keyauth_status
OTHER_SECRET=$(printf '%064d' 7)

# sample NAME{LABELS}: its value in one scrape (on a new connection: any worker).
sample() {
    curl -s "$STATUS" | awk -v key="$1" '$1 == key { print $2 }'
}
requests() { sample "keyauth_nginx_requests_total{verdict=\"$1\",credential=\"${2:-token}\"}"; }

# request EXPECTED_STATUS CURL_ARGS...: one request; its worker is noted.
request() {
    local got
    got=$(status_and_worker "http://127.0.0.1:$PORT/" "${@:2}")
    expect_eq "${got% *}" "$1" "request ${*:2}"
    echo "${got#* }" >>"$WORK/workers"
}

page=$(curl -s -D "$WORK/headers" "$STATUS")
expect_contains "$(cat "$WORK/headers")" "Content-Type: text/plain; version=0.0.4" "content type"
expect_contains "$page" "# TYPE keyauth_nginx_requests_total counter" "the page"
expect_contains "$page" "# TYPE keyauth_nginx_streams_cut_total counter" "the page"
expect_contains "$page" 'keyauth_nginx_requests_total{verdict="suspended",credential="certificate"} 0' "the page"
expect_contains "$page" "keyauth_nginx_registry_up{registry=\"$KEYAUTH_REGISTRY\"} 1" "the page"
expect_eq "$(requests accepted)" "0" "accepted before any request"
pass "keyauth_status: Prometheus text, every verdict and credential, zero at start"

for _ in $(seq 10); do request 200 -H "Authorization: Bearer $(cat ./myapp01_token)"; done
for _ in 1 2; do request 401 -H "Authorization: Bearer nope"; done
request 401 -H "Authorization: Bearer myapp01:b:$OTHER_SECRET"
for _ in 1 2; do request 401 -H "Authorization: Bearer ghost01:b:$OTHER_SECRET"; done
request 401
sequence_before=$(sample "keyauth_nginx_registry_commit_sequence{registry=\"$KEYAUTH_REGISTRY\"}")
keytool del myapp02 >/dev/null
request 401 -H "Authorization: Bearer $(cat ./myapp02_token)"
expect_eq "$(sort -u "$WORK/workers" | wc -l)" "2" "workers that served the requests"

# every scrape, whichever worker serves it, gives the sums of both
for _ in 1 2 3 4; do
    expect_eq "$(requests accepted)" "10" "accepted tokens"
    expect_eq "$(requests malformed)" "2" "malformed tokens"
    # A wrong secret for myapp01 counts as an unknown client: the page must
    # not tell which ids are registered.
    expect_eq "$(requests mismatch)" "" "wrong secrets (no series of their own)"
    expect_eq "$(requests unknown_client)" "4" "unknown and deleted clients, wrong secrets"
    expect_eq "$(requests missing)" "1" "no Authorization header"
    expect_eq "$(requests expired)" "0" "expired tokens"
    expect_eq "$(requests accepted certificate)" "0" "certificates"
done
pass "keyauth_status: verdicts of both workers summed, exact"

# Each worker verifies a token in full once, then answers it from its
# verification cache until the next commit. 16 tokens looked at (the
# request without a header has none): myapp01's 10, of which the first in
# each worker that served one missed; every refused one missed.
hits=$(sample keyauth_nginx_verification_cache_hits_total)
misses=$(sample keyauth_nginx_verification_cache_misses_total)
expect_eq "$((hits + misses))" 16 "tokens looked up in the verification cache (hits $hits, misses $misses)"
[ "$hits" -ge 8 ] && [ "$hits" -le 9 ] || fail "verification cache hits: $hits, expected 8 or 9"
expect_contains "$(curl -s "$STATUS")" "# TYPE keyauth_nginx_verification_cache_misses_total counter" "the page"
pass "keyauth_status: verification cache hits and misses of both workers summed"

expect_eq "$(sample "keyauth_nginx_registry_commit_sequence{registry=\"$KEYAUTH_REGISTRY\"}")" \
    "$((sequence_before + 1))" "commit sequence after one del"
age=$(sample "keyauth_nginx_registry_age_seconds{registry=\"$KEYAUTH_REGISTRY\"}")
[ "$age" -ge 0 ] && [ "$age" -le 2 ] || fail "registry age right after a del: $age"
pass "keyauth_status: the commit sequence moves by one with keytool del; its age restarts"

reload_nginx_and_wait
expect_eq "$(requests accepted)" "10" "accepted tokens after the reload"
expect_eq "$(requests unknown_client)" "4" "unknown clients and wrong secrets after the reload"
request 200 -H "Authorization: Bearer $(cat ./myapp01_token)"
request 401 -H "Authorization: Bearer nope"
for _ in 1 2 3; do
    expect_eq "$(requests accepted)" "11" "accepted tokens, counted on after the reload"
    expect_eq "$(requests malformed)" "3" "malformed tokens, counted on after the reload"
done
pass "keyauth_status: a reload keeps the counts, the new workers count on"

cut_unknown="keyauth_nginx_streams_cut_total{verdict=\"unknown_client\"}"
expect_eq "$(sample "$cut_unknown")" "0" "streams cut before any"
run_bg ws03 $STREAMS_PY ws-client "ws://127.0.0.1:$PORT/ws" "$(cat ./myapp03_token)"
wait_for_lines ws03 echo 3
T0=$(now)
keytool del myapp03 >/dev/null
expect_eq "$(expect_cut_within_1s ws03 "$T0" "myapp03's WebSocket after del")" "closed" "how it ended"
for _ in 1 2 3; do
    expect_eq "$(sample "$cut_unknown")" "1" "streams cut by a del"
done
expect_eq "$(sample 'keyauth_nginx_streams_cut_total{verdict="mismatch"}')" "0" "streams cut as re-issued"
expect_eq "$(requests accepted)" "12" "accepted tokens, the WebSocket's included"
pass "keyauth_status: a WebSocket cut by keytool del is counted"

make_registry_unreadable
sleep 0.3    # readers look for a replaced registry every 200 ms
for _ in 1 2 3; do request 500 -H "Authorization: Bearer $(cat ./myapp01_token)"; done
for _ in 1 2 3; do
    expect_eq "$(requests registry_error)" "3" "requests refused while the registry was unreadable"
    expect_eq "$(sample "keyauth_nginx_registry_up{registry=\"$KEYAUTH_REGISTRY\"}")" "0" "registry up"
done
expect_not_contains "$(curl -s "$STATUS")" "keyauth_nginx_registry_commit_sequence{" "the page"
make_registry_readable
sleep 0.3
request 200 -H "Authorization: Bearer $(cat ./myapp01_token)"
expect_eq "$(sample "keyauth_nginx_registry_up{registry=\"$KEYAUTH_REGISTRY\"}")" "1" "registry up again"
expect_eq "$(requests accepted)" "13" "accepted tokens once the registry answers again"
pass "keyauth_status: requests refused by an unreadable registry counted, registry_up 0 meanwhile"

expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$STATUS")" "405" "POST to the status"
pass "keyauth_status: GET and HEAD only"

expect_clean_error_log ./myapp01_token ./myapp02_token ./myapp03_token
