#!/bin/bash
# Fleet benchmarks on loopback: a 3-member etcd cluster of our own, hosts kept
# by keyauth-sync, nginx on each.
#   - revocation: from `keytool --etcd ... del` returning to the last host's
#     nginx refusing the token (p50/p99 over --deletes N, 3 hosts);
#   - sustained gen/del rate through etcd (--rate N of each, 1 and 4 writers);
#   - initial sync of --initial N[,N...] clients: time and peak RSS of
#     `keyauth-sync --once` into an empty registry.
#
#   tests/bench/fleet_bench.sh [--build-dir DIR] [--deletes 1000] [--rate 200] [--initial 100000,1000000]
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
source "$BENCH_DIR/bench_lib.sh"
BUILD_ARG="" DELETES=1000 RATE=200 INITIAL=100000
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) BUILD_ARG=$2; shift ;;
    --deletes) DELETES=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --initial) INITIAL=$2; shift ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done
BUILD=$(find_build_dir "$BUILD_ARG")
locate_artifacts "$BUILD"
export KEYTOOL KEYAUTH_SYNC=$BUILD/sync/keyauth-sync NGINX_MODULE PLUGIN=$MOSQUITTO_PLUGIN
export TESTLIB=$REPO_DIR/tests/integration/lib.sh
source "$REPO_DIR/tests/integration/fleet/fleet_lib.sh"
trap 'exit 130' INT TERM

start_etcd_cluster
FIRST=http://127.0.0.1:${CLIENT_PORT[1]}
admin init >/dev/null
for i in 1 2 3; do start_host "$i"; start_nginx "$i"; done

host_clients() { keytool --registry "$(host_dir "$1")" status | awk '/^clients:/ {print $2}'; }
every_host_has() { local i; for i in 1 2 3; do [ "$(host_clients "$i")" == "$1" ] || return 1; done; }

# ---- revocation -----------------------------------------------------------
if [ "$DELETES" -gt 0 ]; then
    mkdir -p "$WORK/tokens"
    "$BENCH_DIR/fleet_records.py" "$FIRST" "$DELETES" rev --tokens "$WORK/tokens" --token-count "$DELETES" >&2
    wait_until 60 "$DELETES clients on every host" every_host_has "$DELETES"
    echo "== revocation across 3 hosts (nginx on each), $DELETES deletes"
    "$BENCH_DIR/fleet_revocation.py" --ports "${NGINX_PORT[1]},${NGINX_PORT[2]},${NGINX_PORT[3]}" \
        --tokens "$WORK/tokens" -- "$KEYTOOL" --registry "$ADMIN" --etcd "$ETCD" -- \
        $(seq -f "rev%07g" 0 $((DELETES - 1)))
fi

# ---- sustained gen/del ------------------------------------------------------
if [ "$RATE" -gt 0 ]; then
    echo "== sustained rate through etcd, keytool processes (3 replicas following)"
    mkdir -p "$WORK/rate"
    writer() { # writer NAME COUNT VERB
        local n
        for n in $(seq "$2"); do
            if [ "$3" == gen ]; then
                admin gen "$1-$n" --output "$WORK/rate/$1-$n" >/dev/null
            else
                admin del "$1-$n" >/dev/null
            fi
        done
    }
    for verb in gen del; do
        start=$(now_ns)
        writer solo "$RATE" "$verb"
        ms=$(( ($(now_ns) - start) / 1000000 ))
        echo "$verb, 1 writer: $RATE in $ms ms = $(awk -v n="$RATE" -v ms="$ms" 'BEGIN {printf "%.0f", n * 1000 / ms}')/s"
        start=$(now_ns)
        pids=()
        for w in 1 2 3 4; do writer "par$w" "$((RATE / 4))" "$verb" & pids+=($!); done
        wait "${pids[@]}"
        ms=$(( ($(now_ns) - start) / 1000000 ))
        echo "$verb, 4 writers: $RATE in $ms ms = $(awk -v n="$RATE" -v ms="$ms" 'BEGIN {printf "%.0f", n * 1000 / ms}')/s"
        start=$(now_ns)
        wait_until 60 "replicas caught up" every_host_has "$(etcd_ids | wc -l)"
        echo "   replicas equal to etcd $(( ($(now_ns) - start) / 1000000 )) ms after the last $verb returned"
    done
fi

# ---- initial sync -------------------------------------------------------------
for count in ${INITIAL//,/ }; do
    [ "$count" -gt 0 ] || continue
    etcdctl --endpoints "$ETCD" del --prefix /keyauth/clients/ >/dev/null
    "$BENCH_DIR/fleet_records.py" "$FIRST" "$count" init >&2
    etcdctl --endpoints "$ETCD" compact "$(etcd_revision)" >/dev/null
    etcdctl --endpoints "$ETCD" defrag >/dev/null 2>&1 || true
    echo "== initial sync of $count clients into an empty registry"
    /usr/bin/time -f "%e s elapsed, %M kB peak RSS, %U s user, %S s system" \
        "$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$WORK/initial$count" --once 2>&1 |
        sed 's/^.*keyauth-sync: /keyauth-sync: /'
    echo "   data.mdb $(du -h "$WORK/initial$count/data.mdb" | cut -f1)"
    rm -rf "$WORK/initial$count"
done
