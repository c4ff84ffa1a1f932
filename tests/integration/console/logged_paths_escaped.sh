#!/bin/bash
# A path is logged before any login, URL-decoded: a %0a, an ESC or a quote
# in it is written as \xHH, so nobody can add a line to the log or send the
# operator's terminal an escape sequence.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
port=${CONSOLE##*:}

curl -s -o /dev/null --path-as-is "$CONSOLE/x%0akeytool%20serve:%20GET%20/forged%20200%1b%5b2J%22"
python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /raw%0d%0akeytool%20serve:%20login%20link%20used\x1b]0;owned\x07%C3%A9 HTTP/1.1\r\n"
          b"Host: 127.0.0.1:" + sys.argv[1].encode() + b"\r\nConnection: close\r\n\r\n")
while s.recv(4096):
    pass
PY
stop_console_cleanly

log=$(cat "$CONSOLE_LOG")
expect_contains "$log" 'keytool serve: GET /x\x0akeytool serve: GET /forged 200\x1b[2J\x22 404' "console log"
expect_contains "$log" 'keytool serve: GET /raw\x0d\x0akeytool serve: login link used\x1b]0;owned\x07\xc3\xa9' "console log"
if grep -q '^keytool serve: GET /forged\|^keytool serve: login link used' "$CONSOLE_LOG"; then
    fail "a request wrote a line of its own into the log: $log"
fi
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f-\xff]' "$CONSOLE_LOG"; then
    fail "a control or non-ASCII byte reached the log"
fi
pass "paths are logged escaped"
