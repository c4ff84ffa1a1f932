# Helpers for the console tests: `keytool serve` on a free port, logged in
# with curl as its page does: the link's secret (after #login=) exchanged by
# POST /api/v1/session for a session token, sent as Authorization: Bearer.
#
#   start_console            # $CONSOLE (http://127.0.0.1:PORT), $LOGIN_LINK, $LOGIN_SECRET
#   console_login            # the session token $SESSION
#   api GET /api/v1/clients  # curl with the session; prints "STATUS BODY"
# nginx_lib.sh may have sourced it already.
[ -n "${WORK:-}" ] || source "$TESTLIB"

CONSOLE_LOG=$WORK/console.log

stop_console() {
    [ -n "${CONSOLE_PID:-}" ] || return 0
    kill "$CONSOLE_PID" 2>/dev/null || true
    wait "$CONSOLE_PID" 2>/dev/null || true
    CONSOLE_PID=
}

# SIGTERM ends the console with exit 0 and nothing from the sanitizers.
stop_console_cleanly() {
    local rc=0
    [ -n "${CONSOLE_PID:-}" ] || return 0
    kill -TERM "$CONSOLE_PID"
    wait "$CONSOLE_PID" || rc=$?
    CONSOLE_PID=
    [ "$rc" = 0 ] || fail "keytool serve exited $rc: $(tail -20 "$CONSOLE_LOG")"
    expect_not_contains "$(cat "$CONSOLE_LOG")" "Sanitizer" "console log"
    expect_contains "$(tail -1 "$CONSOLE_LOG")" "stopping on signal 15" "console log"
}

# start_console_with SERVE_OPTIONS...: $LOGIN_LINK and $CONSOLE as it printed them.
start_console_with() {
    # A second console's shell may not have truncated the first one's output yet.
    rm -f "$WORK/console.out"
    # The binary itself, not the keytool function: $! must be the server.
    "$KEYTOOL" serve "$@" >"$WORK/console.out" 2>"$CONSOLE_LOG" &
    CONSOLE_PID=$!
    at_exit stop_console
    for _ in $(seq 100); do
        [ -s "$WORK/console.out" ] && break
        kill -0 "$CONSOLE_PID" 2>/dev/null || fail "keytool serve died: $(cat "$CONSOLE_LOG")"
        sleep 0.05
    done
    LOGIN_LINK=$(head -1 "$WORK/console.out")
    CONSOLE=${LOGIN_LINK%%/#login=*}
    LOGIN_SECRET=${LOGIN_LINK##*#login=}
}

# start_console [SERVE_OPTIONS...]: on 127.0.0.1 and a free port.
start_console() {
    local port
    port=$(free_port)
    start_console_with --listen "127.0.0.1:$port" "$@"
    [[ "$LOGIN_LINK" =~ ^https?://127\.0\.0\.1:$port/#login=[0-9a-f]{64}$ ]] \
        || fail "first line is not the login link: [$LOGIN_LINK]"
}

# exchange SECRET [CURL_ARGS...]: POST /api/v1/session {"login": SECRET} as
# the page does; prints "STATUS BODY".
exchange() {
    local secret=$1
    shift
    curl -s -o "$WORK/session-body" -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "{\"login\":\"$secret\"}" "$@" "$CONSOLE/api/v1/session"
    printf ' %s' "$(cat "$WORK/session-body")"
}

# Logs in as the operator who opened the link: $SESSION holds the session token.
console_login() {
    local answer
    answer=$(exchange "$LOGIN_SECRET" "$@")
    expect_eq "${answer%% *}" 201 "login: ${answer#* }"
    SESSION=$(json_field session <<<"${answer#* }")
    [[ "$SESSION" =~ ^[0-9a-f]{64}$ ]] || fail "no session token from POST /api/v1/session"
}

# json_field NAME: that top-level field of the JSON on stdin.
json_field() {
    python3 -c 'import json, sys; v = json.load(sys.stdin)[sys.argv[1]]; print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# api METHOD PATH [CURL_ARGS...]: with the session; prints "STATUS BODY".
api() {
    local method=$1 path=$2
    shift 2
    curl -s -o "$WORK/api-body" -w '%{http_code}' -H "Authorization: Bearer $SESSION" \
        -X "$method" "$@" "$CONSOLE$path"
    printf ' %s' "$(cat "$WORK/api-body")"
}

# create_client ID [JSON_EXTRA]: POST /api/v1/clients; the JSON answer in
# $WORK/ID.json, its token file in ./ID_token.
create_client() {
    local answer
    answer=$(api POST /api/v1/clients -H 'Content-Type: application/json' \
        -d "{\"id\":\"$1\"${2:+,$2}}")
    expect_eq "${answer%% *}" 201 "POST /api/v1/clients $1: ${answer#* }"
    printf '%s' "${answer#* }" >"$WORK/$1.json"
    python3 - "$WORK/$1.json" "$1" <<'PY'
import json, os, sys
answer = json.load(open(sys.argv[1]))
for f in answer["files"]:
    if f["name"] == sys.argv[2] + "_token":
        fd = os.open(f["name"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, f["contents"].encode())
        os.close(fd)
PY
}

# Stops the console; nothing it handed out or was handed reached its log.
expect_no_secret_in_console_log() {
    local log f
    stop_console_cleanly
    log=$(cat "$CONSOLE_LOG")
    expect_not_contains "$log" "$LOGIN_SECRET" "console log (login secret)"
    [ -z "${SESSION:-}" ] || expect_not_contains "$log" "$SESSION" "console log (session)"
    for f in "$@"; do
        expect_not_contains "$log" "$(cut -d: -f3 "$f")" "console log (token $f)"
    done
}

# wait_for_held FILE: until a background holder of connections has written
# its "held N" line to FILE (at most 10 s).
wait_for_held() {
    for _ in $(seq 100); do
        grep -q '^held' "$1" && return 0
        sleep 0.1
    done
}

# hold_slow_readers PATH COUNT SECONDS [ADDRESSES]: a local user without the
# login secret (nobody), in the background, holds COUNT connections to the
# console for SECONDS, pipelining GET PATH into each as fast as it fits and
# reading 2 KB every 0.2 s from a small receive buffer (slow, yet never idle
# for the server's 5 s). With ADDRESSES, each socket is tied to lo
# (SO_BINDTODEVICE) and bound to 127.0.1.1 .. 127.0.1.ADDRESSES in turn.
# Returns once they are held; its pid in $READERS, its lines ("held N", then
# "at S s still held N") in $WORK/readers.out.
hold_slow_readers() {
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        /usr/bin/python3 - "${CONSOLE##*:}" "$@" >"$WORK/readers.out" 2>&1 <<'PY' &
import socket, sys, time
port, path, count, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
addresses = int(sys.argv[5]) if len(sys.argv) > 5 else 0
request = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path.encode(), port)
held = []
for i in range(count):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    if addresses:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
        s.bind(("127.0.1.%d" % (1 + i % addresses), 0))
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
    READERS=$!
    at_exit "kill $READERS 2>/dev/null"
    wait_for_held "$WORK/readers.out"
}

# listed ID: is ID in the registry (keytool list, read whole: no SIGPIPE)?
listed() {
    local clients
    clients=$(keytool list --json)
    [[ "$clients" == *"\"id\":\"$1\""* ]]
}

# install_puppeteer: puppeteer-core from npm into $NODE_DIR, once per build
# tree (never in git), for the tests that drive the page in Chromium.
install_puppeteer() {
    local here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    : "${NODE_DIR:?NODE_DIR must name where puppeteer-core is installed}"
    if [ ! -f "$NODE_DIR/node_modules/puppeteer-core/package.json" ] ||
        ! cmp -s "$here/package.json" "$NODE_DIR/package.json"; then
        mkdir -p "$NODE_DIR"
        cp "$here/package.json" "$NODE_DIR/package.json"
        (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error >/dev/null) \
            || fail "npm install puppeteer-core failed"
    fi
}

# run_in_chromium SCRIPT ARGS...: node SCRIPT with puppeteer-core; its
# screenshots ($WORK/screenshots) copied to $SCREENSHOT_DIR when set.
run_in_chromium() {
    local ok=0
    NODE_PATH="$NODE_DIR/node_modules" node "$@" || ok=$?
    if [ -n "${SCREENSHOT_DIR:-}" ] && [ -d "$WORK/screenshots" ]; then
        mkdir -p "$SCREENSHOT_DIR"
        cp -r "$WORK/screenshots/." "$SCREENSHOT_DIR/"
    fi
    [ "$ok" = 0 ] || fail "the browser run failed"
}
