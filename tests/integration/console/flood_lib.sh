# A local user without the login secret (nobody) opening connections to the
# console as fast as two processes can, keeping the newest 300 of each open,
# and the operator's requests beside it (sourced after console_lib.sh):
#
#   start_nobodys_flood ADDRESS PORT SECONDS   # $FLOODERS, killed at exit
#   operators_requests_beside_flood COUNT [CURL_ARGS...]   # $ANSWERED, $CUT

start_nobodys_flood() {
    local address=$1 port=$2 seconds=$3 flooder
    FLOODERS=()
    for flooder in 1 2; do
        setpriv --reuid=nobody --regid=nogroup --clear-groups \
            /usr/bin/python3 - "$address" "$port" "$seconds" >"$WORK/flood$flooder.out" 2>&1 <<'PY' &
import collections, socket, sys, time
address, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
held = collections.deque()
opened = 0
end = time.time() + seconds
while time.time() < end:
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((address, port))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        continue
    opened += 1
    held.append(s)
    while len(held) > 300:
        held.popleft().close()
    if opened % 5000 == 0:
        print("opened", opened, flush=True)
PY
        FLOODERS+=($!)
        at_exit "kill ${FLOODERS[-1]} 2>/dev/null"
    done
    sleep 2  # the flood at full speed
}

# The operator's COUNT requests (the session's, GET /api/v1/clients), then
# the flood stopped: $ANSWERED of them answered 200, $CUT closed on (empty
# reply, reset), not timed out after their 4 s.
operators_requests_beside_flood() {
    local count=$1 attempt rc status
    shift
    ANSWERED=0
    CUT=0
    for attempt in $(seq "$count"); do
        rc=0
        status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 4 "$@" \
            -H "Authorization: Bearer $SESSION" "$CONSOLE/api/v1/clients") || rc=$?
        if [ "$status" = 200 ]; then
            ANSWERED=$((ANSWERED + 1))
        elif [ "$rc" != 28 ]; then
            CUT=$((CUT + 1))
        fi
    done
    kill "${FLOODERS[@]}" 2>/dev/null || true
}
