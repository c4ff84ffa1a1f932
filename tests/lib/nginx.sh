# nginx as every test, benchmark and the demo run it: one nginx.conf writer
# and one start and stop. Each nginx lives in a PREFIX directory of the
# caller's (conf/nginx.conf, logs/error.log, logs/nginx.pid, tmp/), listens on
# 127.0.0.1 only and is stopped through its own pid file, never by name.
# Sourced; the caller provides fail MESSAGE and at_exit COMMAND
# (tests/integration/lib.sh does).
#
#   nginx_conf PREFIX [OPTION...] HTTP_BODY   writes PREFIX/conf/nginx.conf
#   nginx_start PREFIX [WRAPPER...]           a daemon, stopped at exit
#   nginx_run PREFIX ARGS...                  nginx -t, nginx -s reload, ...
#   nginx_stop PREFIX
#   nginx_worker_pids PREFIX, nginx_wait_workers PREFIX N
#
# NGINX_BIN names the binary (never NGINX: nginx reads that variable for
# inherited sockets); NGINX_PRELOAD a libasan to load first when the module
# is sanitized, its reports then in NGINX_SANITIZER_LOGS when set.
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}

# nginx_conf PREFIX [--module SO]... [--user "USER [GROUP]"] [--workers N]
#     [--affinity MASK] [--log-level LEVEL] [--connections N] HTTP_BODY
# Defaults: no module, user www-data (--user "": nginx's own choice, the
# invoking user unless that is root), 2 workers, log level info, 1024
# connections. HTTP_BODY goes inside http {}, after the temp paths.
nginx_conf() {
    local prefix=$1 modules=() user=www-data workers=2 affinity="" level=info connections=1024 m t
    shift
    while [ $# -gt 1 ]; do
        case $1 in
        --module) modules+=("$2") ;;
        --user) user=$2 ;;
        --workers) workers=$2 ;;
        --affinity) affinity=$2 ;;
        --log-level) level=$2 ;;
        --connections) connections=$2 ;;
        *) fail "nginx_conf: unknown option $1" ;;
        esac
        shift 2
    done
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp" "$prefix/html"
    {
        for m in "${modules[@]}"; do echo "load_module $m;"; done
        [ -z "$user" ] || echo "user $user;"
        echo "worker_processes $workers;"
        [ -z "$affinity" ] || echo "worker_cpu_affinity $affinity;"
        echo "error_log $prefix/logs/error.log $level;"
        echo "pid $prefix/logs/nginx.pid;"
        echo "events { worker_connections $connections; }"
        echo "http {"
        echo "    access_log off;"
        for t in client_body proxy fastcgi uwsgi scgi; do
            echo "    ${t}_temp_path $prefix/tmp/$t;"
        done
        echo "    default_type text/plain;"
        echo "$1"
        echo "}"
    } >"$prefix/conf/nginx.conf"
}

# nginx_sanitized COMMAND...: COMMAND with NGINX_PRELOAD's libasan loaded
# first, if any (no leak check: nginx leaves its pools to exit). For nginx
# only: curl deadlocks under a preloaded libasan.
nginx_sanitized() {
    if [ -n "${NGINX_PRELOAD:-}" ]; then
        local logs=${NGINX_SANITIZER_LOGS:+:log_path=$NGINX_SANITIZER_LOGS}
        env LD_PRELOAD="$NGINX_PRELOAD" \
            ASAN_OPTIONS="detect_leaks=0:abort_on_error=1${logs:+${logs}/asan}" \
            UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${logs:+${logs}/ubsan}" \
            "$@"
    else
        "$@"
    fi
}

# nginx_run PREFIX ARGS...: nginx on PREFIX's configuration.
nginx_run() {
    local prefix=$1
    shift
    nginx_sanitized "$NGINX_BIN" -p "$prefix" -c conf/nginx.conf "$@"
}

# nginx_start PREFIX [WRAPPER...]: nginx (behind WRAPPER, e.g. taskset) as a
# daemon, stopped at exit; returns once every worker runs. Its listen
# sockets are bound before the daemon detaches: a port taken by another
# server fails here, in nginx's own words. The master's pid in NGINX_MASTER.
nginx_start() {
    local prefix=$1 out
    shift
    out=$(nginx_sanitized "$@" "$NGINX_BIN" -p "$prefix" -c conf/nginx.conf -g 'daemon on;' 2>&1) ||
        fail "nginx did not start: $out"
    NGINX_MASTER=$(cat "$prefix/logs/nginx.pid")
    at_exit "nginx_stop '$prefix'"
    nginx_wait_workers "$prefix" "$(awk '$1 == "worker_processes" { print $2 + 0 }' "$prefix/conf/nginx.conf")"
}

# nginx_wait_workers PREFIX N: until N workers run (five seconds at most).
nginx_wait_workers() {
    local tries=100
    while [ "$(nginx_worker_pids "$1" | wc -l)" -lt "$2" ]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "nginx started fewer than $2 workers"
        sleep 0.05
    done
}

# nginx_stop PREFIX: a graceful stop (QUIT), KILL after five seconds.
nginx_stop() {
    local pid
    [ -f "$1/logs/nginx.pid" ] || return 0
    pid=$(cat "$1/logs/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

nginx_worker_pids() {
    pgrep -P "$(cat "$1/logs/nginx.pid")" | sort
}
