#!/bin/bash
# Every keyauth benchmark that can run here, then one table of figures,
# ratios and targets.
#
#   tests/bench/run_all.sh [--smoke] [--build-dir DIR] [--registry-cache DIR] [--pin] [--no-profile]
#
# Every server comparison gives three kinds of figure: the wall-clock ratio
# (noisy on a shared machine), the share of the server's CPU samples in
# keyauth's code (perf, cpu-clock) and user-space instructions per request or
# CONNECT (callgrind), which no other process can move. --no-profile: wall
# clock only (no perf, no valgrind).
#
# Build first (never part of the default build's tests):
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench -j2
# Full run: about 20 minutes on 2 cores, plus 20 s the first time to make the
# 1 000 / 100 000 / 1 000 000-client registries (cached in --registry-cache,
# default $KEYAUTH_BENCH_CACHE or /tmp/keyauth-bench-cache). --smoke: tiny
# sizes, one short round of everything, a few minutes (CTest bench_scripts_smoke).
# Parts whose server piece is not built (module, plugin) are skipped and said.
source "$(dirname "$0")/bench_lib.sh"

BENCH_OPTIONS="--smoke --build-dir --registry-cache --pin --no-profile"
CACHE=${KEYAUTH_BENCH_CACHE:-/tmp/keyauth-bench-cache}
bench_options "$@"
bench_init "$BUILD_ARG"
cd "$REPO_DIR"
SMOKE_ARG="" PIN_ARG="" PROFILE_ARG=""
[ "$SMOKE" = 1 ] && SMOKE_ARG=--smoke
[ "$PIN" = 1 ] && PIN_ARG=--pin
[ "$NO_PROFILE" = 1 ] && PROFILE_ARG=--no-profile
LOG=$WORK/run_all.log
RESULTS=$WORK/results
: >"$RESULTS"

section() { printf '\n===== %s =====\n' "$*" | tee -a "$LOG" >&2; }
# run_part NAME COMMAND...: its output to the log and the screen, RESULT lines kept.
run_part() {
    local name=$1
    shift
    section "$name: $*"
    if "$@" 2>&1 | tee -a "$LOG" "$WORK/part.out" >&2; then
        grep '^RESULT ' "$WORK/part.out" >>"$RESULTS" || true
    else
        echo "SKIPPED $name (failed, see above)" | tee -a "$LOG" >&2
        echo "RESULT failed_$name 1" >>"$RESULTS"
    fi
    rm -f "$WORK/part.out"
}

section "machine: $(machine_line); load average $(cut -d' ' -f1-3 /proc/loadavg)"

BIG="" SMALL=""
if [ -x "$CORE_BENCH" ]; then
    if [ "$SMOKE" = 1 ]; then
        run_part core "$CORE_BENCH" --smoke --benchmark_color=false
    else
        run_part core "$CORE_BENCH" --registry-cache "$CACHE" --benchmark_color=false
        BIG=$CACHE/clients-1000000 SMALL=$CACHE/clients-1000
    fi
    # core_bench prints SUMMARY lines; keep them as results (CPU ns).
    grep -a '^SUMMARY ' "$LOG" | awk '{ n = $2; sub("/iterations.*", "", n); gsub("/", "@", n);
        print "RESULT core_" n "_ns", $4 }' >>"$RESULTS"
    run_part scale "$BENCH_DIR/registry_scale.sh" --build-dir "$BUILD" $SMOKE_ARG
else
    section "core_bench not built (needs libbenchmark-dev): core and scale parts skipped"
fi
REGISTRY_ARGS=()
[ -n "$BIG" ] && [ -f "$BIG/bench-complete" ] && REGISTRY_ARGS=(--registry "$BIG")
SERVER_ARGS=("${REGISTRY_ARGS[@]}")
[ -n "$SMALL" ] && [ -f "$SMALL/bench-complete" ] && SERVER_ARGS+=(--small-registry "$SMALL")

if [ -f "$NGINX_MODULE" ]; then
    run_part nginx "$BENCH_DIR/nginx_bench.sh" --build-dir "$BUILD" "${SERVER_ARGS[@]}" $SMOKE_ARG $PIN_ARG $PROFILE_ARG
else
    section "no NGINX module at $NGINX_MODULE: nginx part skipped"
fi
if [ -f "$NGINX_MODULE" ]; then
    run_part nginx_tls "$BENCH_DIR/nginx_tls_bench.sh" --build-dir "$BUILD" "${SERVER_ARGS[@]}" $SMOKE_ARG $PROFILE_ARG
fi
if [ -f "$MOSQUITTO_PLUGIN" ] && [ -x "$MQTT_CONNECT_BENCH" ]; then
    run_part mosquitto "$BENCH_DIR/mosquitto_bench.sh" --build-dir "$BUILD" "${SERVER_ARGS[@]}" $SMOKE_ARG $PIN_ARG $PROFILE_ARG
else
    section "no Mosquitto plugin at $MOSQUITTO_PLUGIN: mosquitto part skipped"
fi
if [ -f "$NGINX_MODULE" ] || [ -f "$MOSQUITTO_PLUGIN" ]; then
    run_part revocation "$BENCH_DIR/revocation_bench.sh" --build-dir "$BUILD" "${REGISTRY_ARGS[@]}" $SMOKE_ARG
fi

# ---- the table ------------------------------------------------------------
get() { awk -v k="$1" '$2 == k {v = $3} END {print v}' "$RESULTS"; }
row() {  # row FIGURE VALUE UNIT TARGET VERDICT
    printf '%-50s %12s %-6s %-16s %s\n' "$1" "${2:--}" "$3" "$4" "$5"
}
# verdict VALUE OP LIMIT -> met / NOT MET / -
verdict() {
    [ -n "$1" ] || { echo "-"; return; }
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        ok = (op == "<=") ? v <= l : (op == ">=") ? v >= l : (op == "<") ? v < l : v == l
        print ok ? "met" : "NOT MET" }'
}
us() { awk -v v="$1" 'BEGIN { if (v == "") print ""; else printf "%.2f", v / 1000 }'; }

N=1000000
[ "$SMOKE" = 1 ] && N=1000
{
    printf '\nkeyauth benchmarks%s: %s\n' "$([ "$SMOKE" = 1 ] && echo ' (SMOKE: tiny sizes, one short round; not figures)')" "$(machine_line)"
    printf 'load average at the end: %s (the machine is shared; see docs/BENCHMARKS.md)\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    row FIGURE VALUE UNIT TARGET VERDICT
    for n in 1000 100000 1000000; do
        v=$(us "$(get "core_check_token_valid@${n}_ns")")
        [ -n "$v" ] || continue
        if [ "$n" = 1000000 ]; then t="<= 1 us"; vd=$(verdict "$v" "<=" 1); else t="" vd=""; fi
        row "check_token, valid, $n clients (median CPU)" "$v" us "$t" "$vd"
    done
    for n in 1000000 1000; do
        v=$(us "$(get "core_check_token_same@${n}_ns")")
        [ -n "$v" ] && row "check_token, one client repeated, $n" "$v" us "" ""
        v=$(us "$(get "core_find_by_fingerprint@${n}_ns")")
        [ -n "$v" ] && row "find_by_fingerprint, $n clients" "$v" us "<= 1 us" "$(verdict "$v" "<=" 1)"
        v=$(us "$(get "core_check_certificate@${n}_ns")")
        [ -n "$v" ] && row "check_certificate (SHA-256 + lookup), $n" "$v" us "" ""
        [ -n "$(get "core_check_token_same@${n}_ns")" ] && break
    done
    m=$(awk '$2 ~ /^core_memory_latency/ {print $3}' "$RESULTS" | tail -1)
    [ -n "$m" ] && row "one random memory read (data.mdb-sized)" "$(us "$m")" us "" "(the unit of a cold lookup)"
    row "populate $N clients (one transaction)" "$(get scale_populate_s)" s "" ""
    row "bytes per client on disk (data.mdb)" "$(get scale_bytes_per_client)" B "" ""
    row "keytool list, $N clients, > /dev/null" "$(get scale_list_s)" s "" ""
    g=$(get scale_gen_ms)
    row "keytool gen, $N clients (median)" "$g" ms "< 20 ms" "$(verdict "$g" "<" 20)"
    row "keytool del, $N clients (median)" "$(get scale_del_ms)" ms "" ""
    row "process spawn floor (keytool --help)" "$(get scale_spawn_floor_ms)" ms "" ""
    # Servers: the wall-clock ratio, then what noise cannot move: keyauth's
    # share of the server's CPU samples (perf) and of its instructions (callgrind).
    for c in none keyauth_valid keyauth_rotating keyauth_invalid auth_basic auth_request lua_key; do
        r=$(get "nginx_${c}_ratio")
        [ -n "$r" ] || continue
        row "nginx $c req/s (ratio ${r}x, noisy)" "$(get "nginx_${c}_rps" | cut -d. -f1)" req/s "" ""
        e=$(get "nginx_${c}_extra_instructions")
        [ -n "$e" ] && [ "$c" != none ] &&
            row "  instructions/request over no auth" "$e" instr "" "($(get "nginx_${c}_instruction_share_pct")% of $(get "nginx_${c}_instructions"))"
        p=$(get "nginx_${c}_cpu_share_pct")
        if [ -n "$p" ]; then
            t="" vd=""
            case $c in keyauth_valid) t="<= 1 %"; vd=$(verdict "$p" "<=" 1) ;; esac
            row "  its own share of the worker's CPU samples" "$p" % "$t" "$vd"
        fi
    done
    e=$(get nginx_keyauth_valid_small_extra_instructions)
    [ -n "$e" ] && row "nginx keyauth_valid, 1 000 clients, +instructions" "$e" instr "" ""
    [ -n "$(get nginx_worker_rss_anon_kb)" ] &&
        row "nginx worker RssAnon / RssFile after load" "$(get nginx_worker_rss_anon_kb)/$(get nginx_worker_rss_file_kb)" kB "" "(file = shared LMDB map)"
    # Client certificates beside ssl_verify_client alone (nginx_tls_bench.sh).
    for m in keepalive handshake; do
        e=$(get "nginx_tls_keyauth_${m}_extra_instructions")
        [ -n "$e" ] && row "nginx keyauth_client_cert, $m, instructions/request over TLS alone" "$e" instr "" \
            "($(get "nginx_tls_keyauth_${m}_instruction_share_pct")% of $(get "nginx_tls_keyauth_${m}_instructions"))"
        p=$(get "nginx_tls_keyauth_${m}_cpu_share_pct")
        [ -n "$p" ] && row "  keyauth's share of the worker's CPU samples (TLS alone: $(get "nginx_tls_verify_${m}_cpu_share_pct"))" "$p" % "" ""
    done
    for c in anonymous keyauth_same keyauth_token keyauth_refused password_file dynsec_1k dynsec_100k tls tls_keyauth; do
        v=$(get "mqtt_${c}_rate")
        [ -n "$v" ] || continue
        r=$(get "mqtt_${c}_ratio")
        row "mqtt $c connects/s${r:+ (ratio ${r}x, noisy)}" "$(printf '%.0f' "$v")" conn/s "" ""
        e=$(get "mqtt_${c}_extra_instructions")
        [ -n "$e" ] && [ "$c" != anonymous ] &&
            row "  instructions/CONNECT over anonymous" "$e" instr "" "($(get "mqtt_${c}_instruction_share_pct")% of $(get "mqtt_${c}_instructions"))"
        p=$(get "mqtt_${c}_cpu_share_pct")
        if [ -n "$p" ] && [ "$c" != anonymous ]; then
            t="" vd=""
            case $c in keyauth_same | keyauth_token) t="<= 1 %"; vd=$(verdict "$p" "<=" 1) ;; esac
            row "  its own share of the broker's CPU samples" "$p" % "$t" "$vd"
        fi
    done
    for c in keyauth_same_small keyauth_token_small; do
        e=$(get "mqtt_${c}_extra_instructions")
        [ -n "$e" ] && row "mqtt ${c%_small}, 1 000 clients, +instructions" "$e" instr "" ""
    done
    [ -n "$(get mqtt_broker_rss_anon_kb)" ] &&
        row "broker RssAnon / RssFile after load" "$(get mqtt_broker_rss_anon_kb)/$(get mqtt_broker_rss_file_kb)" kB "" "(file = shared LMDB map)"
    h=$(get revocation_http_accepted_after_del)
    [ -n "$h" ] && row "HTTP requests accepted after del returned" "$h" "" "0 (immediate)" "$(verdict "$h" "==" 0)"
    [ -n "$h" ] && row "HTTP first refusal after del (curl spawn)" "$(get revocation_http_ms)" ms "" ""
    m=$(get revocation_mqtt_max_ms)
    [ -n "$m" ] && row "MQTT live session dropped after del (max)" "$m" ms "<= 1000 ms" "$(verdict "$m" "<=" 1000)"
    grep '^RESULT failed_' "$RESULTS" | sed 's/^RESULT failed_/FAILED PART: /; s/ 1$//' || true
} | tee -a "$LOG"
if [ "$SMOKE" = 0 ]; then
    cp "$LOG" "/tmp/keyauth-bench-$(date +%Y%m%d-%H%M%S).log"
    note "full log kept in /tmp/keyauth-bench-*.log"
fi
! grep -q '^RESULT failed_' "$RESULTS"
