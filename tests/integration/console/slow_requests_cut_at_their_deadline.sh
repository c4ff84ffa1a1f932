#!/bin/bash
# A local user with no secret (nobody) opens 256 connections (16 from the
# operator's own 127.0.0.1, 16 from each of 15 other loopback addresses),
# trickling a header byte on each every 2 s, never idle long enough for the
# idle timeout: it keeps 16, its share whatever address it binds, the
# operator's curl from 127.0.0.1 is answered at once, and every trickled
# request is cut at its 10 s deadline, none before.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
port=${CONSOLE##*:}

setpriv --reuid=nobody --regid=nogroup --clear-groups \
    /usr/bin/python3 - "$port" >"$WORK/slow.out" 2>&1 <<'PY' &
import select, socket, sys, time
port = int(sys.argv[1])
held = []
for a in range(1, 17):
    for _ in range(16):
        s = socket.socket()
        s.bind(("127.0.0.%d" % a, 0))
        try:
            s.connect(("127.0.0.1", port))
            held.append(s)
        except OSError:
            pass
print("held", len(held), flush=True)
start = time.time()
while time.time() - start < 16:
    for s in list(held):
        try:
            s.send(b"X")
            # The server's end closed (a cut): readable, at its end.
            if select.select([s], [], [], 0)[0] and not s.recv(1):
                raise OSError
        except OSError:
            held.remove(s)
    print("at %.0f s still held %d" % (time.time() - start, len(held)), flush=True)
    time.sleep(2)
PY
slow_pid=$!
at_exit "kill $slow_pid 2>/dev/null"
wait_for_held "$WORK/slow.out"
expect_eq "$(grep '^held' "$WORK/slow.out")" "held 256" "connections the local user took"
sleep 1

for attempt in 1 2 3; do
    start=$(date +%s%N)
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$CONSOLE/api/v1/clients" || true)
    elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    expect_eq "$status" 401 "operator's curl $attempt while slow requests are held"
    [ "$elapsed_ms" -lt 2000 ] || fail "operator's curl $attempt took ${elapsed_ms} ms"
    sleep 1
done
pass "the operator's curl is answered at once while a local user trickles requests"

wait "$slow_pid" || true
cat "$WORK/slow.out"
# A trickled request began at most ~2 s after the holder's clock started: cut
# by 10 s + the 1 s sweep after it began; none may outlive 14 s.
last=$(grep '^at 1[4-9] s' "$WORK/slow.out" | tail -1)
[ -n "$last" ] || fail "the holder did not run 14 s: $(cat "$WORK/slow.out")"
expect_eq "${last##* }" 0 "slow requests still held after 14 s"
early=$(grep '^at [0-7] s' "$WORK/slow.out" | tail -1)
expect_eq "${early##* }" 16 "slow requests of one user held before their deadline ($early)"
expect_eq "$(curl -s -o /dev/null -w "%{http_code}" "$CONSOLE/api/v1/clients")" 401 "the console afterwards"
expect_no_secret_in_console_log
pass "every trickled request cut at its deadline, none before"
