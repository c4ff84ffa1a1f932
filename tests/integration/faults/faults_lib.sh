# What the fault tests share: keytool stopped (SIGSTOP) or killed (SIGKILL)
# inside a commit while the real NGINX module and Mosquitto plugin serve the
# same registry. Sourced first; it sources nginx_lib.sh (and lib.sh),
# streams_lib.sh and broker.bash.
#
#   stop_writer_at POINT keytool del victim    # returns once it is stopped
#   ...probe the servers...
#   kill -CONT "$WRITER" (or -KILL); wait_writer
#
# The points, in a commit's order (shared/src: LmdbWriter::commit,
# publish_committed, publish_new_file); a commit that makes a new index file
# goes from lmdb-committed to new-file-in-place, then published.
POINTS=(before-commit lmdb-committed copy-marked copy-changed copy-durable published)

source "$NGINX_LIB"
source "$NGINX_TESTS/streams_lib.sh"
source "$BROKER_LIB"   # skips (77) without a broker; makes the registry, group mosquitto
: "${FILL_REGISTRY:?FILL_REGISTRY must name keyauth_fill_registry}"

# Both servers read one registry: the broker as mosquitto, NGINX's workers as
# www-data with mosquitto as their group (the registry's group).
NGX_USER="www-data mosquitto"

# How slow an answer may be, in seconds. A reader that waits for a writer
# takes a disk sync or, as before 00ec2da, a second: no answer may take
# STALL_LIMIT, and only the odd one (a shared, noisy machine) SLOW_LIMIT.
SLOW_LIMIT=${FAULTS_SLOW_LIMIT:-0.25}
STALL_LIMIT=${FAULTS_STALL_LIMIT:-1.0}

# stop_writer_at POINT COMMAND...: runs COMMAND with the test hook set and
# returns once it has stopped itself at POINT; its pid in WRITER, its output
# in $WORK/writer.out and writer.err.
stop_writer_at() {
    local point=$1 tries=1000 state
    shift
    KEYAUTH_TEST_STOP_AT=$point "$@" >"$WORK/writer.out" 2>"$WORK/writer.err" &
    WRITER=$!
    at_exit "kill -KILL $WRITER 2>/dev/null"
    while :; do
        state=$(awk '{ print $3 }' "/proc/$WRITER/stat" 2>/dev/null || echo gone)
        [ "$state" != T ] || return 0
        [ "$state" != gone ] && [ "$state" != Z ] ||
            fail "$* ended before $point: $(cat "$WORK/writer.out" "$WORK/writer.err")"
        [ $((tries -= 1)) -gt 0 ] || fail "$* never reached $point"
        sleep 0.01
    done
}

# wait_writer: its exit status in WRITER_STATUS.
wait_writer() {
    WRITER_STATUS=0
    { wait "$WRITER"; } 2>/dev/null || WRITER_STATUS=$?  # no "Killed" notice
}

# A token's client id.
id_of() { cut -d: -f1 "$1"; }

# slow SECONDS LIMIT: true when SECONDS exceeds LIMIT.
slow() { awk -v t="$1" -v l="$2" 'BEGIN { exit !(t > l) }'; }

# http_verdict URL TOKEN-FILE: "admitted", "refused" or "unavailable"
# (anything else fails the test), faster than STALL_LIMIT.
http_verdict() {
    local got status seconds
    got=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 10 \
        -H "Authorization: Bearer $(cat "$2")" "$1") || true
    status=${got% *} seconds=${got#* }
    ! slow "$seconds" "$STALL_LIMIT" || fail "HTTP request of $(id_of "$2") took $seconds s"
    case $status in
        200) echo admitted ;;
        401) echo refused ;;
        500) echo unavailable ;;  # the registry unreadable: refused, and said so
        *) fail "HTTP request of $(id_of "$2"): status $status" ;;
    esac
}

# mqtt_verdict TOKEN-FILE: "admitted" or "refused", mosquitto_pub's start to
# its exit faster than STALL_LIMIT.
mqtt_verdict() {
    local t0=$EPOCHREALTIME out rc=0 seconds
    out=$(mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat "$1")" \
        -t db/write/EXAMPLE -m "probe" 2>&1) || rc=$?
    seconds=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
    ! slow "$seconds" "$STALL_LIMIT" || fail "MQTT CONNECT of $(id_of "$1") took $seconds s"
    if [ "$rc" -eq 0 ]; then
        echo admitted
    else
        expect_refused "$out" "MQTT CONNECT of $(id_of "$1")"
        echo refused
    fi
}

# listed_by_keytool ID [REGISTRY]: "admitted" when `keytool list` (as root:
# LMDB, the registry of record) shows ID, else "refused".
listed_by_keytool() {
    local listed
    listed=$(keytool --registry "${2:-$KEYAUTH_REGISTRY}" list --json) || fail "keytool list: $listed"
    if [[ "$listed" == *"\"id\":\"$1\""* ]]; then
        echo admitted
    else
        echo refused
    fi
}
