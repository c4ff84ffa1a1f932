#!/bin/bash
# A request held by limit_req (keyed by $keyauth_client_id, which judges the
# token before the access phase) is judged again when it comes out of the
# delay if the registry changed meanwhile: "keytool del" during the delay
# refuses it with 401, and so does a token whose validity ends during the
# delay. Nothing changed: the early verdict stands.
source "$(dirname "$0")/nginx_lib.sh"
: "${SET_VALIDITY:?SET_VALIDITY must name keyauth_set_validity}"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
keytool gen myapp03 --output ./myapp03 >/dev/null
UP=$(free_port)
PORT=$(free_port)
start_nginx "$(upstream_server "$UP")
    limit_req_zone \$keyauth_client_id zone=per_client:1m rate=1r/s;

$(token_server "$PORT" "
        location / {
            limit_req zone=per_client burst=5;
            proxy_pass http://127.0.0.1:$UP;
            proxy_set_header X-Client-Id \$keyauth_client_id;
        }")"

# burst NAME CLIENT N: N requests at once, each line "STATUS BODY" in NAME.N
burst() {
    local i
    for i in $(seq "$3"); do
        curl_status_body_to "$WORK/$1.$i" "http://127.0.0.1:$PORT/db/query" \
            -H "Authorization: Bearer $(cat "./$2_token")" &
    done
}
curl_status_body_to() {
    local out=$1
    shift
    curl -s -o "$out.body" -w '%{http_code}' "$@" >"$out"
    printf ' %s\n' "$(tr -d '\n' <"$out.body")" >>"$out"
}
statuses() { cat "$WORK/$1".? | sort | uniq -c | awk '{ $1 = $1 "x"; print }' | paste -sd' '; }

# Nothing changes: one answered at once, the others held 1 and 2 s, all 200.
burst quiet myapp02 3
wait
expect_eq "$(statuses quiet)" "3x 200 client=myapp02" "a burst while nothing changes"
pass "a delayed request keeps its early verdict while the registry is unchanged"

# myapp01 deleted while two of its requests wait in limit_req's delay.
burst held myapp01 3
sleep 0.5
keytool del myapp01 >/dev/null
wait
expect_eq "$(statuses held)" "1x 200 client=myapp01 2x 401 $INVALID_TOKEN_BODY" \
    "myapp01's burst with a keytool del during the delay"
expect_contains "$(cat "$NGX_ERROR_LOG")" 'keyauth: token of client "myapp01" refused: unknown client' \
    "error log"
pass "keytool del during a limit_req delay: the delayed requests get 401"

# myapp03 valid 2 s more; six requests at once come out of the delay at
# +0 .. +5 s: those after its end are refused although judged before it,
# with nothing committed meanwhile (+2 s may fall either side).
"$SET_VALIDITY" "$KEYAUTH_REGISTRY" myapp03 -100 +2
burst ending myapp03 6
wait
ended=$(statuses ending)
case "$ended" in
"2x 200 client=myapp03 4x 401 $INVALID_TOKEN_BODY" | "3x 200 client=myapp03 3x 401 $INVALID_TOKEN_BODY") ;;
*) fail "myapp03's burst across its validity's end: $ended" ;;
esac
expect_contains "$(cat "$NGX_ERROR_LOG")" 'keyauth: token of client "myapp03" refused: expired' \
    "error log"
pass "a validity ending during a limit_req delay: the requests let out after it get 401"

expect_clean_error_log ./myapp01_token ./myapp02_token ./myapp03_token
