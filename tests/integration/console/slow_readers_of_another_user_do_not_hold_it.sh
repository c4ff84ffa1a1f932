#!/bin/bash
# Review 3, M-1: a local user without the login secret (nobody) holds 16
# connections from the operator's own 127.0.0.1 and never reads their
# answers (a small receive buffer, requests pipelined as fast as they fit,
# 2 KB read every 0.2 s so that no connection is ever idle for the server's
# 5 s): those connections are being answered, which the guard once never
# cut. The operator's requests (root, with the session) are still answered:
# every local user is held to its own share of connections. Counted with a
# margin: on a loaded machine one may time out; before the fix none came.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
console_login
port=${CONSOLE##*:}

setpriv --reuid=nobody --regid=nogroup --clear-groups \
    /usr/bin/python3 - "$port" 16 25 >"$WORK/readers.out" 2>&1 <<'PY' &
import socket, sys, time
port, count, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
request = b"GET /console.js HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port
held = []
for _ in range(count):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        continue
    s.setblocking(False)
    held.append(s)
print("held", len(held), flush=True)
end = time.time() + seconds
while time.time() < end:
    for s in list(held):
        try:
            s.send(request * 100)  # as many as fit: the pipeline never runs dry
        except BlockingIOError:
            pass
        except OSError:
            held.remove(s)
            continue
        try:
            if not s.recv(2048):
                held.remove(s)
        except BlockingIOError:
            pass
        except OSError:
            held.remove(s)
    print("at %.0f s still held %d" % (seconds - (end - time.time()), len(held)), flush=True)
    time.sleep(0.2)
PY
readers=$!
at_exit "kill $readers 2>/dev/null"
wait_for_held "$WORK/readers.out"
sleep 1  # every answer stalled in the full socket buffers

answered=0
for attempt in $(seq 5); do
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        -H "Authorization: Bearer $SESSION" "$CONSOLE/api/v1/clients" || true)
    echo "operator's request $attempt: $status"
    [ "$status" = 200 ] && answered=$((answered + 1))
    sleep 0.2
done
cat "$WORK/readers.out"
echo "operator answered $answered/5 beside 16 slow readers"
[ "$answered" -ge 4 ] || fail "the operator was answered $answered/5 times beside 16 slow readers of another user"
kill "$readers" 2>/dev/null || true
expect_no_secret_in_console_log
pass "slow readers of another local user do not keep the operator out"
