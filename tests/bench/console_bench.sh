#!/bin/bash
# The console at scale: server time of GET /api/v1/clients (the table's first
# page, a deep page, sorted by expiry, a search) and of the expiry calendar on
# a registry of N clients, through `keytool serve` on loopback.
#
#   tests/bench/console_bench.sh [--build-dir DIR] [--clients N] [--runs N]
#
# Time is curl's time to the first byte on 127.0.0.1 (connection included):
# the server's time plus a loopback round trip. Median of --runs.
source "$(dirname "$0")/bench_lib.sh"

BUILD_ARG="" CLIENTS=1000000 RUNS=15
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) BUILD_ARG=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done
bench_init "$BUILD_ARG"
[ -x "$CORE_BENCH" ] || die "no core_bench at $CORE_BENCH (needs libbenchmark-dev)"
CACHE=$WORK/scale
"$CORE_BENCH" --registry-cache "$CACHE" --sizes "$CLIENTS" --populate-only 2>&1 | grep -v '^core_bench: populating' >&2
export KEYAUTH_REGISTRY=$CACHE/clients-$CLIENTS
export TESTLIB=$REPO_DIR/tests/integration/lib.sh
source "$REPO_DIR/tests/integration/console/console_lib.sh"
start_console
console_login

# ms PATH: median time to first byte, after checking one answer is 200.
ms() {
    local status
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $SESSION" "$CONSOLE$1")
    [ "$status" = 200 ] || die "GET $1 answered $status"
    for _ in $(seq "$RUNS"); do
        curl -s -o /dev/null -w '%{time_starttransfer}\n' -H "Authorization: Bearer $SESSION" "$CONSOLE$1"
    done | median | awk '{ printf "%.1f", $1 * 1000 }'
}
total=$(curl -s -H "Authorization: Bearer $SESSION" "$CONSOLE/api/v1/clients?limit=1" | json_field total)
[ "$total" = "$CLIENTS" ] || die "the console counts $total clients, not $CLIENTS"

printf '\nConsole on a registry of %s clients (%s), median of %s\n' "$CLIENTS" "$(machine_line)" "$RUNS"
printf '  first page, 50 by id            %8s ms\n' "$(ms '/api/v1/clients?offset=0&limit=50')"
printf '  page at offset 500000, by id    %8s ms\n' "$(ms '/api/v1/clients?offset=500000&limit=50')"
printf '  first page by id descending     %8s ms\n' "$(ms '/api/v1/clients?offset=0&limit=50&sort=-id')"
printf '  first page by expiry            %8s ms\n' "$(ms '/api/v1/clients?offset=0&limit=50&sort=expire')"
printf '  search q=99999 (full scan)      %8s ms\n' "$(ms '/api/v1/clients?q=99999&limit=50')"
printf '  expiry calendar, 12 months      %8s ms\n' "$(ms '/api/v1/expiry-calendar?months=12')"
