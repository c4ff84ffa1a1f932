#!/bin/bash
# 80 clients trickling a request header one byte at a time from one address
# (127.0.0.2) hold at most that address's share of connections: the operator's
# curl from 127.0.0.1 is still answered at once, and a client that goes silent
# mid-header is cut after a few seconds.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
port=${CONSOLE##*:}

python3 - "$port" 80 >"$WORK/slow.out" 2>&1 <<'PY' &
import socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(count):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    try:
        s.connect(("127.0.0.1", port))
        held.append(s)
    except OSError:
        pass
header = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
for byte in header[:40]:  # a byte a connection every 0.2 s: never silent for long
    for s in list(held):
        try:
            s.send(bytes([byte]))
        except OSError:
            held.remove(s)
    time.sleep(0.2)
PY
slow_pid=$!
at_exit "kill $slow_pid 2>/dev/null"
sleep 2  # all 80 connected and trickling

start=$(date +%s%N)
status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$CONSOLE/api/v1/clients" || true)
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "$status" 401 "curl beside 80 slow clients"
[ "$elapsed_ms" -lt 2000 ] || fail "curl took ${elapsed_ms} ms beside 80 slow clients"
kill "$slow_pid" 2>/dev/null || true

# Silent after half a header: closed by the server within its timeout.
python3 - "$port" <<'PY' || fail "a silent half-sent request was not closed within 10 s"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
s.settimeout(10)
start = time.time()
try:
    while s.recv(4096):
        pass
except socket.timeout:
    sys.exit(1)
except ConnectionResetError:
    pass
print("closed after %.1f s" % (time.time() - start))
PY

expect_eq "$(curl -s -o /dev/null -w "%{http_code}" "$CONSOLE/api/v1/clients")" 401 "the console afterwards"
expect_no_secret_in_console_log
pass "slow clients do not hold the console"
