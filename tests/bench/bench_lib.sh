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

# ---- options ------------------------------------------------------------
# Every script takes the options it names in BENCH_OPTIONS (set before
# calling bench_options "$@"), each into the same variable everywhere;
# -h/--help prints the script's opening comment. --smoke only sets SMOKE=1:
# each script then picks its own tiny sizes.
declare -A BENCH_OPTION_VARIABLE=(
    [--build-dir]=BUILD_ARG [--registry]=REGISTRY_ARG [--registry-cache]=CACHE
    [--duration]=DURATION [--rounds]=ROUNDS [--connections]=CONNECTIONS
    [--trials]=TRIALS [--clients]=CLIENTS [--runs]=RUNS [--requests]=REQUESTS
    [--small-registry]=SMALL_REGISTRY_ARG [--tokens]=TOKENS_ARG [--cases]=CASES_ARG)
declare -A BENCH_FLAG_VARIABLE=([--smoke]=SMOKE [--pin]=PIN [--no-profile]=NO_PROFILE)
BUILD_ARG="" REGISTRY_ARG="" SMALL_REGISTRY_ARG="" TOKENS_ARG="" CASES_ARG="" SMOKE=0 PIN=0 NO_PROFILE=0
bench_options() {
    local word
    while [ $# -gt 0 ]; do
        word=$1
        case $word in
        -h | --help)
            awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"
            exit 0
            ;;
        esac
        [[ " $BENCH_OPTIONS " == *" $word "* ]] || die "unknown option $word (try --help)"
        if [ -n "${BENCH_FLAG_VARIABLE[$word]:-}" ]; then
            printf -v "${BENCH_FLAG_VARIABLE[$word]}" 1
        else
            [ $# -ge 2 ] || die "$word needs a value"
            printf -v "${BENCH_OPTION_VARIABLE[$word]}" '%s' "$2"
            shift
        fi
        shift
    done
}

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
# The one way every test runs nginx and Mosquitto (NGINX: the nginx binary).
NGINX_BIN=${NGINX:-${NGINX_BIN:-/usr/sbin/nginx}}
source "$REPO_DIR/tests/lib/nginx.sh"
source "$REPO_DIR/tests/lib/mosquitto.sh"

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
server_user() { if as_root; then echo root; fi; }

# stop_pid PID [SIGNAL]: signal, then KILL after five seconds.
stop_pid() {
    kill -"${2:-TERM}" "$1" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}

# bench_nginx_conf PREFIX WORKERS AFFINITY "MODULE.so..." HTTP_BODY: the
# bench's nginx.conf, loading the given modules.
bench_nginx_conf() {
    local m modules=()
    for m in $4; do modules+=(--module "$m"); done
    nginx_conf "$1" "${modules[@]}" --user "$(server_user)" --workers "$2" --affinity "$3" \
        --log-level notice --connections 4096 "    keepalive_requests 1000000;
$5"
}

# start_nginx_bench PREFIX WORKERS AFFINITY HTTP_BODY: nginx with our module
# (and $NGINX_EXTRA_MODULES), daemonised, stopped at exit. Sets NGINX_MASTER.
start_nginx_bench() {
    bench_nginx_conf "$1" "$2" "$3" "$NGINX_MODULE ${NGINX_EXTRA_MODULES:-}" "$4"
    nginx_start "$1"
}

# callgrind_nginx NAME "MODULES" BODY PORT CLIENT...: one nginx process (no
# master, no daemon) under callgrind, driven by the CLIENT command, then
# stopped (SIGQUIT, or $CALLGRIND_NGINX_STOP); its profile is
# $WORK/callgrind/NAME.out.
callgrind_nginx() {
    local name=$1 modules=$2 body=$3 port=$4 prefix=$WORK/callgrind/nginx-$1 pid
    shift 4
    bench_nginx_conf "$prefix" 1 "" "$modules" "$body"
    valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind/$name.out" \
        "$NGINX_BIN" -p "$prefix" -c conf/nginx.conf \
        -g 'daemon off; master_process off;' >"$prefix/logs/valgrind.log" 2>&1 &
    pid=$!
    at_exit "stop_pid $pid KILL"
    wait_for_port "$port" 120
    "$@" || die "callgrind case $name: the client failed"
    kill -"${CALLGRIND_NGINX_STOP:-QUIT}" "$pid"
    # Under valgrind the signal may land outside epoll_wait: an idle nginx
    # would then sleep on. A connection wakes it to see the flag.
    sleep 0.5
    if kill -0 "$pid" 2>/dev/null; then
        { exec {wake}<>"/dev/tcp/127.0.0.1/$port" && exec {wake}>&-; } 2>/dev/null || true
    fi
    wait "$pid" || die "nginx under callgrind ($name) failed: $(tail -5 "$prefix/logs/valgrind.log")"
}

# bench_mosquitto_conf DIR PORT CONF_LINES: DIR/mosquitto.conf, a broker on
# 127.0.0.1:PORT.
bench_mosquitto_conf() {
    mkdir -p "$1"
    mosquitto_conf --user "$(server_user)" --log-types "error warning notice information" \
        "per_listener_settings false" "persistence false" "connection_messages false" \
        "$(mosquitto_listener "$2")" "$3" >"$1/mosquitto.conf"
}

# callgrind_mosquitto NAME CONF_LINES PORT CLIENT...: the same for the broker.
callgrind_mosquitto() {
    local name=$1 dir=$WORK/callgrind/mosquitto-$1 pid
    bench_mosquitto_conf "$dir" "$3" "$2"
    shift 3
    MOSQUITTO_START_SECONDS=300 mosquitto_start "$dir/mosquitto.conf" "$dir/mosquitto.log" \
        valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind/$name.out"
    pid=$MOSQUITTO_STARTED
    "$@" >"$dir/client.out" || die "callgrind case $name: the client failed: $(cat "$dir/client.out")"
    grep -q ' errors 0 ' "$dir/client.out" || die "callgrind case $name: errors: $(cat "$dir/client.out")"
    mosquitto_stop "$pid"
    [ "$MOSQUITTO_STATUS" = 0 ] || die "mosquitto under callgrind ($name) failed: $(tail -5 "$dir/mosquitto.log")"
}

# start_mosquitto NAME PORT CPU CONF_LINES: a broker on 127.0.0.1:PORT pinned
# to CPU, stopped at exit; its pid in MOSQUITTO_PID[NAME], its log
# $WORK/mosquitto-NAME/mosquitto.log.
declare -A MOSQUITTO_PID=()
start_mosquitto() {
    bench_mosquitto_conf "$WORK/mosquitto-$1" "$2" "$4"
    mosquitto_start "$WORK/mosquitto-$1/mosquitto.conf" "$WORK/mosquitto-$1/mosquitto.log" taskset -c "$3"
    MOSQUITTO_PID[$1]=$MOSQUITTO_STARTED
}

# ---- figures noise cannot move -------------------------------------------
# Wall-clock ratios on a shared machine swing by tens of percent. Beside them
# every server comparison reports (1) the share of the server's CPU samples
# (perf, cpu-clock, user and kernel) in keyauth's code and the libraries only
# it calls, and (2) user-space instructions per request or CONNECT under
# callgrind, which no other process can change.

# What perf calls keyauth's code: our module or plugin (the core is linked
# into it) and the libraries the servers load only for it.
KEYAUTH_DSOS='keyauth|libsodium|liblmdb|libstdc\+\+|libgcc_s'

have_perf() {
    [ "$NO_PROFILE" = 0 ] && command -v perf >/dev/null &&
        perf record -q -e cpu-clock -o /dev/null -- true >/dev/null 2>&1
}
have_callgrind() {
    [ "$NO_PROFILE" = 0 ] && command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null
}

# perf_start PID FILE / perf_stop: sample PID on the CPU clock meanwhile.
PERF_PID=""
perf_start() {
    perf record -q -e cpu-clock -p "$1" -o "$2" >/dev/null 2>&1 &
    PERF_PID=$!
    sleep 0.2  # attached before the load starts
}
perf_stop() {
    [ -n "$PERF_PID" ] || return 0
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
}

# perf_share FILE... -> "percent samples": the share of all samples in the
# files that fell in KEYAUTH_DSOS.
perf_share() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        perf report -i "$f" --sort dso --stdio -q -F overhead,sample,dso 2>/dev/null
    done | awk -v re="$KEYAUTH_DSOS" '
        NF >= 3 { total += $2; if ($3 ~ re) ours += $2 }
        END { if (total > 0) printf "%.2f %d\n", 100 * ours / total, total; else print "nan 0" }'
}

# perf_top_symbols FILE... : keyauth's heaviest symbols, for the log.
perf_top_symbols() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        perf report -i "$f" --sort dso,sym --stdio -q -F sample,dso,sym 2>/dev/null
    done | awk -v re="$KEYAUTH_DSOS" '$2 ~ re { c = $1; $1 = ""; n[$0] += c } END { for (k in n) print n[k] k }' |
        sort -rn | sed -n 1,12p
}

# show_profile CASE REGEX LINES TITLE: the callgrind profile of CASE (from
# count runs NAME-a/NAME-b): its functions matching REGEX, inclusive
# instructions per operation, largest first.
show_profile() {
    printf '\n%s\n' "$4"
    per_op_functions "$WORK/callgrind/$1-a.out" "$WORK/callgrind/$1-b.out" \
        "$(cat "$WORK/callgrind/$1.count")" "$2" yes | sed -n "1,$3p"
}

# profile_results KEY SHARE INSTRUCTIONS EXTRA: the RESULT lines of the
# figures noise cannot move (SHARE "-" and empty values are left out).
profile_results() {
    local key=$1 share=$2 instr=$3 extra=$4
    if [ "$share" != - ] && [ -n "$share" ]; then echo "RESULT ${key}_cpu_share_pct $share"; fi
    if [ -n "$instr" ]; then echo "RESULT ${key}_instructions $instr"; fi
    if [ -n "$extra" ]; then
        echo "RESULT ${key}_extra_instructions $extra"
        echo "RESULT ${key}_instruction_share_pct $(awk -v e="$extra" -v i="$instr" 'BEGIN {printf "%.2f", 100 * e / i}')"
    fi
}

# callgrind_total FILE: the instructions the process executed (Ir).
callgrind_total() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }

# callgrind_functions FILE [yes|no]: "Ir<TAB>function" for every function,
# inclusive (yes, default) or self. callgrind_annotate may list a function
# once per source file it has lines from: self costs are summed, inclusive
# ones (each already the whole call) taken once.
callgrind_functions() {
    LC_ALL=C callgrind_annotate --auto=no --inclusive="${2:-yes}" --threshold=100 "$1" 2>/dev/null |
        awk -v inclusive="${2:-yes}" '$1 ~ /^[0-9,]+$/ && $2 ~ /^\(/ {
            n = $1; gsub(",", "", n); n += 0; $1 = ""; $2 = ""
            sub(/^ +/, ""); sub(/ \[[^]]*\]$/, ""); sub(/^[^:]*:/, "")
            if (inclusive == "yes") { if (n > sum[$0]) sum[$0] = n } else sum[$0] += n }
            END { for (f in sum) print sum[f] "\t" f }'
}

# per_op A_FILE B_FILE COUNT: (Ir of B - Ir of A) / COUNT, B having done
# COUNT operations more than A after the same start.
per_op() {
    awk -v a="$(callgrind_total "$1")" -v b="$(callgrind_total "$2")" -v n="$3" \
        'BEGIN { printf "%.0f", (b - a) / n }'
}

# per_op_functions A_FILE B_FILE COUNT [REGEX [yes|no]]: each function's
# instructions per operation (inclusive, or self), the same difference,
# largest first.
per_op_functions() {
    local a=$1 b=$2 n=$3 re=${4:-.} inclusive=${5:-yes}
    LC_ALL=C join -t $'\t' -1 2 -2 2 -a 2 -e 0 -o 0,1.1,2.1 \
        <(callgrind_functions "$a" "$inclusive" | LC_ALL=C sort -t $'\t' -k2,2) \
        <(callgrind_functions "$b" "$inclusive" | LC_ALL=C sort -t $'\t' -k2,2) |
        awk -F '\t' -v n="$n" -v re="$re" '$1 ~ re { d = ($3 - $2) / n; if (d >= 0.5) printf "%8.0f  %s\n", d, $1 }' |
        sort -rn
}
