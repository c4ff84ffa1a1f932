# Helpers for the tests of open requests cut by revocation. Sourced after
# nginx_lib.sh. The upstreams and clients are Debian's python3-websockets and
# python3-grpcio, and curl, run by streams.py (see there).
#
#   start_upstream ROLE           streams.py ROLE on port $UP
#   run_bg NAME COMMAND...        output in $WORK/NAME.out, stopped at exit
#   wait_for_lines NAME WORD N    until NAME printed WORD N times
#   T0=$(now); keytool del ...
#   expect_cut_within_1s NAME "$T0" WHAT
#   expect_still_flowing NAME WORD WHAT

STREAMS_PY="/usr/bin/python3 $NGINX_TESTS/streams.py"

now() { date +%s.%N; }

# websocket_location: /ws, proxied with Upgrade to the upstream on $UP.
websocket_location() {
    cat <<EOF
        location /ws {
            proxy_pass http://127.0.0.1:$UP;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection upgrade;
            proxy_read_timeout 60s;
        }
EOF
}

run_bg() {
    local name=$1
    shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    at_exit "kill $! 2>/dev/null"
}

# start_upstream ROLE: streams.py ROLE (ws-echo, grpc-server, http-server)
# listening on a free port, $UP.
start_upstream() {
    UP=$(free_port)
    run_bg upstream $STREAMS_PY "$1" "$UP"
    wait_for_port "$UP"
}

# count NAME WORD: how many lines NAME printed that start with WORD; 0 also
# before its output file exists (run_bg's redirection happens in the
# background: a wait right after it could otherwise pass at once).
count() {
    local n
    n=$(grep -c "^$2 " "$WORK/$1.out" 2>/dev/null) || true
    echo "${n:-0}"
}

wait_for_lines() {
    local tries=200
    while [ "$(count "$1" "$2")" -lt "$3" ]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "$1 printed fewer than $3 \"$2\": $(cat "$WORK/$1.out" "$WORK/$1.err")"
        sleep 0.05
    done
}

# The last line of a client that ended: "closed T", "error STATUS T", "end T"
# (curl's: "exit CODE T").
last_line_when_ended() {
    local tries=100
    while ! grep -qE '^(closed|error|end|exit|timeout) ' "$WORK/$1.out"; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "$1 still open 5 s after the change: $(tail -n 3 "$WORK/$1.out")"
        sleep 0.05
    done
    grep -E '^(closed|error|end|exit|timeout) ' "$WORK/$1.out" | head -n 1
}

# Under valgrind (open_request_cuts_valgrind_clean) everything is slower.
CUT_LIMIT=${CUT_LIMIT:-1.0}

# expect_cut_within_1s NAME T0 WHAT: NAME's stream ended less than a second
# (CUT_LIMIT) after T0; prints how it ended (the line without its time).
expect_cut_within_1s() {
    local line at
    line=$(last_line_when_ended "$1")
    at=${line##* }
    awk -v a="$at" -v b="$2" -v limit="$CUT_LIMIT" 'BEGIN { exit !(a - b < limit && a - b > -0.5) }' \
        || fail "$3: ended $(awk -v a="$at" -v b="$2" 'BEGIN { print a - b }') s after the change"
    echo "# $3: ended $(awk -v a="$at" -v b="$2" 'BEGIN { printf "%.2f", a - b }') s after the change" >&2
    echo "${line% *}"
}

# expect_still_flowing NAME WORD WHAT: NAME keeps printing WORD for 1 s more
# and has not ended.
expect_still_flowing() {
    local before
    before=$(count "$1" "$2")
    sleep 1
    [ "$(count "$1" "$2")" -ge $((before + ${FLOW_MIN:-5})) ] \
        || fail "$3: stalled at $before \"$2\" lines: $(tail -n 3 "$WORK/$1.out")"
    if grep -qE '^(closed|error|end|exit|timeout) ' "$WORK/$1.out"; then
        fail "$3: ended: $(tail -n 1 "$WORK/$1.out")"
    fi
}

# sse_client NAME URL CURL_ARGS...: curl -N, each event a "data" line, then
# "exit CODE T" when curl ends.
sse_client() {
    local name=$1 url=$2
    shift 2
    (
        set +e +o pipefail
        curl -sS -N --max-time 40 "$@" "$url" 2>"$WORK/$name.err" \
            | while IFS= read -r line; do
                  [ -n "$line" ] && printf '%s %s\n' "${line%%:*}" "$(now)"
              done
        printf 'exit %s %s\n' "${PIPESTATUS[0]}" "$(now)"
    ) >"$WORK/$name.out" &
    at_exit "kill $! 2>/dev/null"
}

# How many times the error log says keyauth closed an open request of CLIENT.
cuts_of() {
    grep -c "keyauth: closing open request of client \"$1\"" "$NGX_ERROR_LOG" || true
}
