#!/bin/bash
# A request with two Content-Length headers (how requests are smuggled past a
# proxy that reads the other one) is answered 400, before and after login, and
# nothing is written.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
console_login
port=${CONSOLE##*:}

raw() {  # raw LENGTH_HEADERS: the POST's status line
    python3 - "$port" "$SESSION" "$1" <<'PY'
import socket, sys
port, session, lengths = sys.argv[1], sys.argv[2], sys.argv[3]
body = b'{"id":"smuggled"}'
request = ("POST /api/v1/clients HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n"
           "Authorization: Bearer %s\r\n"
           "Content-Type: application/json\r\n%s"
           "Connection: close\r\n\r\n" % (port, session, lengths)).encode() + body
s = socket.create_connection(("127.0.0.1", int(port)))
s.sendall(request)
answer = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    answer += chunk
print(answer.split(b"\r\n")[0].decode())
PY
}
expect_eq "$(raw $'Content-Length: 17\r\nContent-Length: 17\r\n')" "HTTP/1.1 400 Bad Request" "two equal Content-Lengths"
expect_eq "$(raw $'Content-Length: 17\r\ncontent-length: 5\r\n')" "HTTP/1.1 400 Bad Request" "two different Content-Lengths"
listed smuggled && fail "a request with two Content-Lengths made a client"
expect_eq "$(raw $'Content-Length: 17\r\n')" "HTTP/1.1 201 Created" "one Content-Length"
listed smuggled || fail "the well-formed request made no client"
expect_no_secret_in_console_log
pass "two Content-Length headers answer 400"
