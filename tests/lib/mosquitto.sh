# Mosquitto as every test, benchmark and the demo run it: one configuration
# writer and one start and stop. A broker listens on 127.0.0.1 only, logs to
# its stderr (a file of the caller's) and is stopped by the pid it was
# started with, never by name. Sourced; the caller provides fail MESSAGE and
# at_exit COMMAND (tests/integration/lib.sh does).
#
#   mosquitto_conf [--user USER] [--log-types "TYPE..."] LINE...   on stdout
#   mosquitto_listener PORT, mosquitto_tls REGISTRY, mosquitto_plugin SO [REGISTRY]
#                                        lines to give it
#   mosquitto_start CONF LOG [WRAPPER...]  returns once it runs; pid in MOSQUITTO_STARTED
#   mosquitto_wait_running PID LOG         the same wait, for a broker started otherwise
#   mosquitto_stop PID                     exit status in MOSQUITTO_STATUS
#
# MOSQUITTO names the binary; MOSQUITTO_PRELOAD a libasan to load first when
# the plugin is sanitized.
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}

# What runs in front of a broker with a sanitized plugin: libasan loaded
# first into the uninstrumented broker, reports into the broker's log.
MOSQUITTO_SANITIZER=()
if [ -n "${MOSQUITTO_PRELOAD:-}" ]; then
    MOSQUITTO_SANITIZER=(env "LD_PRELOAD=$MOSQUITTO_PRELOAD" ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
        "LSAN_OPTIONS=suppressions=$(dirname "${BASH_SOURCE[0]}")/mosquitto-lsan.supp:fast_unwind_on_malloc=0"
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1)
fi

# mosquitto_conf [--user USER] [--log-types "TYPE..."] LINE...: a broker's
# configuration: the user it drops to (default mosquitto; "": none, it keeps
# the invoking user unless that is root), its log on stderr with the given
# types (default all; "running" is of type information), then the LINEs.
mosquitto_conf() {
    local user=mosquitto types=all t
    while [ $# -gt 0 ]; do
        case $1 in
        --user) user=$2 ;;
        --log-types) types=$2 ;;
        *) break ;;
        esac
        shift 2
    done
    [ -z "$user" ] || echo "user $user"
    echo "log_dest stderr"
    for t in $types; do echo "log_type $t"; done
    [ $# -eq 0 ] || printf '%s\n' "$@"
}

mosquitto_listener() { echo "listener $1 127.0.0.1"; }

# mosquitto_tls REGISTRY: the listener above it takes TLS, with the
# registry's server certificate, and requires client certificates of its CA.
mosquitto_tls() {
    printf '%s\n' "cafile $1/ca_cert.pem" "certfile $1/server_cert.pem" \
        "keyfile $1/server_key.pem" "require_certificate true"
}

# mosquitto_plugin SO [REGISTRY]: the plugin, on REGISTRY when given.
mosquitto_plugin() {
    echo "plugin $1"
    [ -z "${2:-}" ] || echo "plugin_opt_registry $2"
}

# mosquitto_readable_plugin SO DIR: a copy of SO in DIR, its path printed.
# The broker loads plugins after dropping to its user, who may not see into
# the build tree.
mosquitto_readable_plugin() {
    install -m 644 "$1" "$2/$(basename "$1")"
    echo "$2/$(basename "$1")"
}

# mosquitto_start CONF LOG [WRAPPER...]: the broker (behind WRAPPER, e.g.
# valgrind or taskset; else MOSQUITTO_SANITIZER) in the background, its
# output in LOG, stopped at exit; returns once it runs. Its pid in
# MOSQUITTO_STARTED.
mosquitto_start() {
    local conf=$1 log=$2
    shift 2
    [ $# -gt 0 ] || set -- "${MOSQUITTO_SANITIZER[@]}"
    # Emptied here, not by the background job's redirection: a restart on
    # the same log could otherwise find the last broker's "running" line
    # before the job has truncated it, and go on before this one listens.
    : >"$log"
    "$@" "$MOSQUITTO" -c "$conf" >>"$log" 2>&1 &
    MOSQUITTO_STARTED=$!
    MOSQUITTO_RUNNING[$MOSQUITTO_STARTED]=1
    at_exit "mosquitto_stop $MOSQUITTO_STARTED"
    mosquitto_wait_running "$MOSQUITTO_STARTED" "$log"
}

# mosquitto_wait_running PID LOG: until LOG says the broker runs (within
# MOSQUITTO_START_SECONDS, default 30); fails with LOG if it ends first.
# The log, not a port answering: another server may hold the port.
mosquitto_wait_running() {
    local tries=$((${MOSQUITTO_START_SECONDS:-30} * 20))
    until grep -q ' running$' "$2"; do
        kill -0 "$1" 2>/dev/null && [ $((tries -= 1)) -gt 0 ] ||
            fail "mosquitto did not start; it said:
$(sed 's/^/    /' "$2")"
        sleep 0.05
    done
}

# mosquitto_stop PID: SIGTERM, and its exit status in MOSQUITTO_STATUS (KILL
# after a minute: under valgrind a broker takes a while). A broker stopped
# already is left alone: its pid may be another process's by now.
declare -gA MOSQUITTO_RUNNING=()
mosquitto_stop() {
    local pid=$1 tries=1200
    MOSQUITTO_STATUS=0
    [ -n "${MOSQUITTO_RUNNING[$pid]:-}" ] || return 0
    unset "MOSQUITTO_RUNNING[$pid]"
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        [ $((tries -= 1)) -gt 0 ] || { kill -KILL "$pid" 2>/dev/null || true; break; }
        sleep 0.05
    done
    { wait "$pid"; } 2>/dev/null || MOSQUITTO_STATUS=$?
}
