#!/bin/bash
# gRPC through grpc_pass on an HTTP/2 TLS server admitting registered client
# certificates (a Python grpcio client and server): a server-streaming call
# ends with an error status within a second of "keytool del" or of
# "keytool gen --force" for its client; the other clients' streams, on their
# own connections, keep flowing.
source "$(dirname "$0")/nginx_lib.sh"
source "$NGINX_TESTS/streams_lib.sh"

init_registry
for id in myapp01 myapp02 myapp03; do
    keytool gen $id --output ./$id >/dev/null
done
keytool server-cert --output ./server.crt >/dev/null
start_upstream grpc-server
TLS=$(free_port)
start_nginx "$(certificate_server "$TLS" "
        location / {
            grpc_pass grpc://127.0.0.1:$UP;
            grpc_read_timeout 60s;
        }")"

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

expect_clean_error_log
