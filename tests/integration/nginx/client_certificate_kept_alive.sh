#!/bin/bash
# keyauth_client_cert on a kept-alive TLS connection: every request is
# judged, though the certificate's fingerprint is computed once per
# connection (fingerprint_memo.hpp). A deleted or suspended client is
# refused on the very next request of a connection it already used.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
keytool server-cert --output ./server.crt >/dev/null
UP=$(free_port)
TLS=$(free_port)
start_nginx "$(upstream_server "$UP")
    $(certificate_server "$TLS" "$(proxy_naming_client "$UP")")"

# kept_alive CLIENT COMMAND...: on one TLS connection presenting CLIENT's
# certificate, two requests, then COMMAND, then one more; prints each
# request's status and client, and "same connection" if no request
# reconnected.
kept_alive() {
    local client=$1
    shift
    python3 - "$TLS" "./${client}_cert.pem" "./${client}_key.pem" "$@" <<'PY'
import http.client, ssl, subprocess, sys
port, cert, key, command = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
context = ssl.create_default_context(cafile="./server.crt")
context.load_cert_chain(cert, key)
connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=30)
ends = set()
def get():
    connection.request("GET", "/db/query")
    response = connection.getresponse()
    body = response.read().decode().strip()
    ends.add(connection.sock.getsockname())
    print(response.status, body if response.status == 200 else "refused")
get()
get()
subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
get()
print("same connection" if len(ends) == 1 else "reconnected")
PY
}

# refused_after CLIENT WHAT COMMAND...: CLIENT's kept connection admits it
# twice, and after COMMAND refuses its very next request.
refused_after() {
    local client=$1 what=$2
    shift 2
    expect_eq "$(kept_alive "$client" "$@")" "200 client=$client
200 client=$client
403 refused
same connection" "$what: refused on the next request of the kept connection"
    pass "a $what client's kept-alive connection refused on its very next request"
}

refused_after myapp01 deleted "$KEYTOOL" del myapp01
refused_after myapp02 suspended "$KEYTOOL" suspend myapp02
keytool resume myapp02 >/dev/null
refused_after myapp02 "replaced certificate's" "$KEYTOOL" gen myapp02 --force --output ./new02

expect_clean_error_log
