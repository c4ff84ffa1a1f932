#!/bin/bash
# gRPC through grpc_pass on an HTTP/2 TLS server admitting registered client
# certificates (a Python grpcio client and server): a server-streaming call
# ends with an error status within a second of "keytool del" or of
# "keytool gen --force" for its client; the other clients' streams, on their
# own connections, keep flowing. With tokens, two clients' calls on one HTTP/2
# connection: one stream is reset, the other goes on.
source "$(dirname "$0")/nginx_lib.sh"
source "$NGINX_TESTS/streams_lib.sh"

init_registry
for id in myapp01 myapp02 myapp03; do
    keytool gen $id --output ./$id >/dev/null
done
keytool server-cert --output ./server.crt >/dev/null
start_upstream grpc-server
TLS=$(free_port)
H2C=$(free_port)
start_nginx "$(certificate_server "$TLS" "
        location / {
            grpc_pass grpc://127.0.0.1:$UP;
            grpc_read_timeout 60s;
        }")
    server {
        listen 127.0.0.1:$H2C http2 reuseport;
        keyauth_registry $KEYAUTH_REGISTRY;
        keyauth on;
        location / {
            grpc_pass grpc://127.0.0.1:$UP;
            grpc_read_timeout 60s;
        }
    }"

# call CLIENT CERT_PREFIX: one streaming call, in the background.
call() {
    run_bg "$1" $STREAMS_PY grpc-client "localhost:$TLS" ./server.crt \
        "./$2_cert.pem" "./$2_key.pem"
}

call grpc01 myapp01
call grpc02 myapp02
call grpc03 myapp03
for c in grpc01 grpc02 grpc03; do
    wait_for_lines $c tick 5
done
pass "three gRPC server streams through grpc_pass with client certificates"

T0=$(now)
keytool del myapp01 >/dev/null
ended=$(expect_cut_within_1s grpc01 "$T0" "myapp01's stream after del")
[[ "$ended" == "error "* ]] || fail "myapp01's stream ended without an error status: $ended"
pass "keytool del: myapp01's stream ended within 1 s ($ended)"

expect_still_flowing grpc02 tick "myapp02's stream after myapp01's deletion"
expect_still_flowing grpc03 tick "myapp03's stream after myapp01's deletion"
pass "the other clients' streams keep flowing"

T0=$(now)
keytool gen myapp02 --output ./new02 --force >/dev/null
ended=$(expect_cut_within_1s grpc02 "$T0" "myapp02's stream after gen --force")
[[ "$ended" == "error "* ]] || fail "myapp02's stream ended without an error status: $ended"
pass "keytool gen --force: the old certificate's stream ended within 1 s ($ended)"

expect_still_flowing grpc03 tick "myapp03's stream after myapp02's re-issue"
call grpc02new new02
wait_for_lines grpc02new tick 5
pass "the re-issued certificate streams; myapp03 untouched"

log=$(cat "$NGX_ERROR_LOG")
expect_contains "$log" 'keyauth: closing open request of client "myapp01": unknown client' "del logged"
expect_contains "$log" 'keyauth: closing open request of client "myapp02": credential re-issued' "re-issue logged"
expect_eq "$(cuts_of myapp01)" "1" "cut lines for myapp01"
expect_eq "$(cuts_of myapp02)" "1" "cut lines for myapp02"
expect_eq "$(cuts_of myapp03)" "0" "cut lines for myapp03"
pass "one log line per cut"

# Two token clients' calls multiplexed on one connection (grpcio opens one
# per channel).
keytool gen myapp04 --output ./myapp04 >/dev/null
keytool gen myapp05 --output ./myapp05 >/dev/null
run_bg pair $STREAMS_PY grpc-pair "127.0.0.1:$H2C" "$(cat ./myapp04_token)" "$(cat ./myapp05_token)"
wait_for_lines pair "tick a" 5
wait_for_lines pair "tick b" 5
expect_eq "$(ss -Htn state established "( dport = :$H2C )" | wc -l)" "1" "client connections to the h2c server"
T0=$(now)
keytool del myapp04 >/dev/null
for _ in $(seq 60); do
    grep -q '^error a ' "$WORK/pair.out" && break
    sleep 0.05
done
line=$(grep '^error a ' "$WORK/pair.out") || fail "myapp04's call still open: $(tail -n 3 "$WORK/pair.out")"
at=${line##* }
awk -v a="$at" -v b="$T0" 'BEGIN { exit !(a - b < 1.0) }' || fail "myapp04's call ended late: $line"
before=$(count pair "tick b")
sleep 1
[ "$(count pair "tick b")" -ge $((before + 5)) ] || fail "myapp05's call stalled: $(tail -n 3 "$WORK/pair.out")"
! grep -qE '^(error|end) b ' "$WORK/pair.out" || fail "myapp05's call ended: $(grep -E '^(error|end) b ' "$WORK/pair.out")"
expect_eq "$(ss -Htn state established "( dport = :$H2C )" | wc -l)" "1" "the connection after the reset"
pass "one connection, two clients: del resets only the deleted client's stream (${line% *})"

# The same while the other stream is quiet: nothing else on the connection
# would carry the reset.
keytool gen myapp06 --output ./myapp06 >/dev/null
run_bg quiet $STREAMS_PY grpc-pair "127.0.0.1:$H2C" "$(cat ./myapp06_token)" "$(cat ./myapp05_token)" \
    /keyauth.test.Ticker/Quiet
wait_for_lines quiet "tick a" 5
wait_for_lines quiet "tick b" 1
T0=$(now)
keytool del myapp06 >/dev/null
for _ in $(seq 60); do
    grep -q '^error a ' "$WORK/quiet.out" && break
    sleep 0.05
done
line=$(grep '^error a ' "$WORK/quiet.out") || fail "myapp06's call still open: $(tail -n 3 "$WORK/quiet.out")"
awk -v a="${line##* }" -v b="$T0" 'BEGIN { exit !(a - b < 1.0) }' || fail "myapp06's call ended late: $line"
! grep -qE '^(error|end) b ' "$WORK/quiet.out" || fail "the quiet call ended: $(cat "$WORK/quiet.out")"
pass "beside a quiet stream on the same connection, the reset still arrives within 1 s"

expect_clean_error_log ./myapp04_token ./myapp05_token ./myapp06_token
