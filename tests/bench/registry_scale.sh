#!/bin/bash
# The registry at scale: time to populate N clients (one write transaction of
# real records), `keytool list` time, `keytool gen`/`del` latency, bytes per
# client on disk.
#
#   tests/bench/registry_scale.sh [--build-dir DIR] [--clients N] [--runs N] [--smoke]
#
# Populates a fresh registry in a temporary directory (removed at the end),
# so the population time is always measured, never taken from a cache.
source "$(dirname "$0")/bench_lib.sh"

BENCH_OPTIONS="--build-dir --clients --runs --smoke"
CLIENTS=1000000 RUNS=20
bench_options "$@"
if [ "$SMOKE" = 1 ]; then CLIENTS=1000 RUNS=3; fi
bench_init "$BUILD_ARG"
[ -x "$CORE_BENCH" ] || die "no core_bench at $CORE_BENCH (needs libbenchmark-dev)"

CACHE=$WORK/scale
"$CORE_BENCH" --registry-cache "$CACHE" --sizes "$CLIENTS" --populate-only 2>&1 | grep -v '^core_bench: populating' >&2
REG=$CACHE/clients-$CLIENTS
value() { awk -F= -v k="$1" '$1 == k {print $2}' "$REG/bench-complete"; }

# keytool list, table and JSON, to /dev/null: median of three.
list_seconds() {
    for _ in 1 2 3; do
        local t0 t1
        t0=$(now_ns)
        "$KEYTOOL" --registry "$REG" list "$@" >/dev/null
        t1=$(now_ns)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
    done | median
}
LIST=$(list_seconds)
LIST_JSON=$(list_seconds --json)
LISTED=$("$KEYTOOL" --registry "$REG" list --json | grep -o '"id"' | wc -l)
[ "$LISTED" = "$CLIENTS" ] || die "keytool list shows $LISTED clients, not $CLIENTS"

# gen/del latency as core_bench measures it (spawned, median of RUNS).
SUMMARY=$("$CORE_BENCH" --registry-cache "$CACHE" --sizes "$CLIENTS" --keytool-runs "$RUNS" \
    --benchmark_filter='^keytool_' --benchmark_color=false 2>/dev/null | grep '^SUMMARY')
ms() { awk -v k="$1" '$2 ~ k {printf "%.1f", $3 / 1e6}' <<<"$SUMMARY"; }
RSS=$(/usr/bin/time -f %M "$KEYTOOL" --registry "$REG" list >/dev/null 2>"$WORK/rss" && tail -1 "$WORK/rss")

printf '\nRegistry of %s clients (%s)\n' "$CLIENTS" "$(machine_line)"
printf '  populate (one transaction)  %8.2f s   (puts %s s, commit %s s)\n' \
    "$(value populate_seconds)" "$(value put_seconds)" "$(value commit_seconds)"
printf '  data.mdb                    %8.1f MiB  = %s bytes/client\n' \
    "$(awk -v b="$(value data_mdb_bytes)" 'BEGIN {print b / 1048576}')" "$(value bytes_per_client)"
printf '  keytool list > /dev/null    %8.2f s   (--json %s s; peak RSS %s kB)\n' "$LIST" "$LIST_JSON" "$RSS"
printf '  keytool gen (median)        %8s ms  (spawn floor, keytool --help: %s ms)\n' \
    "$(ms keytool_gen)" "$(ms keytool_spawn_floor)"
printf '  keytool del (median)        %8s ms\n' "$(ms keytool_del)"
cat <<EOF
RESULT scale_clients $CLIENTS
RESULT scale_populate_s $(value populate_seconds)
RESULT scale_bytes_per_client $(value bytes_per_client)
RESULT scale_list_s $LIST
RESULT scale_list_json_s $LIST_JSON
RESULT scale_list_peak_rss_kb $RSS
RESULT scale_gen_ms $(ms keytool_gen)
RESULT scale_del_ms $(ms keytool_del)
RESULT scale_spawn_floor_ms $(ms keytool_spawn_floor)
EOF
