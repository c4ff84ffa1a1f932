# Helpers shared by the benchmark scripts. Source it; it sets `set -euo pipefail`.
#
# Every script runs its servers on 127.0.0.1, on free ports, bounded in time,
# and stops them itself: bench_init sources the integration tests' lib.sh,
# which gives $WORK (a temporary directory, removed on success), at_exit
# cleanups run on exit, free_port and wait_for_port.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/../.." && pwd)

die() { echo "${0##*/}: $*" >&2; exit 1; }
note() { echo "${0##*/}: $*" >&2; }

# The build tree: --build-dir, else $BUILD_DIR, else build-bench in the repo.
find_build_dir() {
    local dir=${1:-${BUILD_DIR:-$REPO_DIR/build-bench}}
    [ -d "$dir" ] || die "no build directory $dir (cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench)"
    (cd "$dir" && pwd)
}

# bench_init [BUILD_DIR]: finds what we built, then the shared test helpers.
bench_init() {
    BUILD=$(find_build_dir "${1:-}")
    locate_artifacts "$BUILD"
    export KEYTOOL
    # shellcheck source=../integration/lib.sh
    source "$REPO_DIR/tests/integration/lib.sh"
    trap 'exit 130' INT TERM
}

# Paths of what we built, overridable from the environment.
locate_artifacts() {
    local build=$1
    KEYTOOL=${KEYTOOL:-$build/keytool/keytool}
    CORE_BENCH=${CORE_BENCH:-$build/tests/bench/core_bench}
    MQTT_CONNECT_BENCH=${MQTT_CONNECT_BENCH:-$build/tests/bench/mqtt_connect_bench}
    NGINX_MODULE=${NGINX_MODULE:-$build/nginx-module/ngx_http_keyauth_module.so}
    MOSQUITTO_PLUGIN=${MOSQUITTO_PLUGIN:-$build/mosquitto-plugin/mosquitto_keyauth.so}
}

# median of the numbers on stdin
median() {
    sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}'
}

# ratio A B: A/B with three decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }

now_ns() { date +%s%N; }

# CPU seconds (user+system) a process has used so far.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# memory_of PID: "rss_anon_kb rss_file_kb pss_kb private_dirty_kb"
memory_of() {
    local pid=$1
    local anon file
    anon=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status")
    file=$(awk '/^RssFile:/ {print $2}' "/proc/$pid/status")
    awk -v anon="$anon" -v file="$file" '
        /^Pss:/ {pss=$2} /^Private_Dirty:/ {pd=$2}
        END {print anon, file, pss, pd}' "/proc/$pid/smaps_rollup"
}

# A registry with tokens to check: a core_bench cache directory (holds
# bench-tokens.txt), else a fresh one with a few clients made by keytool.
# Sets REGISTRY and TOKENS_FILE.
prepare_registry() {
    local wanted=$1 work=$2
    if [ -n "$wanted" ]; then
        [ -f "$wanted/bench-tokens.txt" ] || die "$wanted has no bench-tokens.txt (make it with core_bench --populate-only)"
        REGISTRY=$(cd "$wanted" && pwd)
        TOKENS_FILE=$REGISTRY/bench-tokens.txt
        return
    fi
    REGISTRY=$work/registry
    TOKENS_FILE=$work/tokens.txt
    "$KEYTOOL" --registry "$REGISTRY" init >/dev/null 2>&1
    mkdir -p "$work/issued"
    : >"$TOKENS_FILE"
    for i in 1 2 3 4; do
        "$KEYTOOL" --registry "$REGISTRY" gen "bench0$i" --output "$work/issued/" >/dev/null
        cat "$work/issued/bench0${i}_token" >>"$TOKENS_FILE"
    done
}

# Clients in a registry (the bench marker, else keytool list --json).
registry_clients() {
    if [ -f "$1/bench-complete" ]; then
        awk -F= '$1 == "clients" {print $2}' "$1/bench-complete"
    else
        "$KEYTOOL" --registry "$1" list --json | grep -o '"id"' | wc -l
    fi
}

machine_line() {
    printf '%s cores, %s, kernel %s' "$(nproc)" \
        "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" "$(uname -r)"
}

# Servers run as the invoking user; as root they stay root (the registry is
# root's here), instead of dropping to nobody/mosquitto.
as_root() { [ "$(id -u)" = 0 ]; }

# stop_pid PID [SIGNAL]: signal, then KILL after five seconds.
stop_pid() {
    kill -"${2:-TERM}" "$1" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}

# start_nginx_bench PREFIX WORKERS AFFINITY HTTP_BODY: nginx with our module,
# daemonised, stopped at exit. Sets NGINX_MASTER.
start_nginx_bench() {
    local prefix=$1 workers=$2 affinity=$3 body=$4 port
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
    {
        echo "load_module $NGINX_MODULE;"
        if as_root; then echo "user root;"; fi
        echo "worker_processes $workers;"
        if [ -n "$affinity" ]; then echo "worker_cpu_affinity $affinity;"; fi
        echo "error_log $prefix/logs/error.log notice;"
        echo "pid $prefix/logs/nginx.pid;"
        echo "events { worker_connections 4096; }"
        echo "http {"
        echo "    access_log off;"
        for t in client_body proxy fastcgi uwsgi scgi; do
            echo "    ${t}_temp_path $prefix/tmp/$t;"
        done
        echo "    default_type text/plain;"
        echo "    keepalive_requests 1000000;"
        echo "$body"
        echo "}"
    } >"$prefix/conf/nginx.conf"
    "${NGINX:-/usr/sbin/nginx}" -p "$prefix" -c conf/nginx.conf -g 'daemon on;' \
        2>"$prefix/logs/start.log" || die "nginx did not start: $(cat "$prefix/logs/start.log")"
    NGINX_MASTER=$(cat "$prefix/logs/nginx.pid")
    at_exit "stop_pid $NGINX_MASTER QUIT"
    for port in $(grep -o 'listen 127\.0\.0\.1:[0-9]*' "$prefix/conf/nginx.conf" | cut -d: -f2); do
        wait_for_port "$port"
    done
    for _ in $(seq 50); do
        [ "$(pgrep -c -P "$NGINX_MASTER")" -ge "$workers" ] && return 0
        sleep 0.1
    done
    die "nginx started fewer than $workers workers"
}

# start_mosquitto NAME PORT CPU CONF_LINES: a broker on 127.0.0.1:PORT pinned
# to CPU, stopped at exit; its pid in MOSQUITTO_PID[NAME].
declare -A MOSQUITTO_PID=()
start_mosquitto() {
    local name=$1 port=$2 cpu=$3 body=$4 dir=$WORK/mosquitto-$1
    mkdir -p "$dir"
    {
        if as_root; then echo "user root"; fi
        echo "per_listener_settings false"
        echo "persistence false"
        echo "connection_messages false"
        echo "log_dest file $dir/mosquitto.log"
        printf 'log_type %s\n' error warning notice
        echo "listener $port 127.0.0.1"
        echo "$body"
    } >"$dir/mosquitto.conf"
    taskset -c "$cpu" "${MOSQUITTO:-/usr/sbin/mosquitto}" -c "$dir/mosquitto.conf" \
        >"$dir/stdout.log" 2>&1 &
    MOSQUITTO_PID[$name]=$!
    at_exit "stop_pid ${MOSQUITTO_PID[$name]}"
    wait_for_port "$port"
}
