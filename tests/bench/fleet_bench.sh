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
#       [--bulk N] [--writers N] [--rebuild-every SECONDS] [--digest-interval SECONDS]
#       [--etcd-writes RATE] [--etcd-on-tmpfs] [--etcd-members N]
# The revocation run under load: --bulk N more clients in etcd (a rebuild or a
# digest check then reads for seconds), --writers N processes looping keytool
# gen and del of their own clients meanwhile, --rebuild-every S a SIGUSR1 to
# every host's keyauth-sync every S seconds, --digest-interval the hosts';
# --etcd-writes R changes a second written straight into etcd meanwhile (one
# client put or deleted a transaction, from 8 connections). --etcd-on-tmpfs
# puts the etcd members' data directories (WAL included) in /dev/shm, for a
# measurement of keyauth's part where the disk's fsyncs cap etcd's rate
# (the hosts' registries stay on disk): etcd so run is not durable.
# --etcd-members N: a cluster of N members (3 by default).
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
source "$BENCH_DIR/bench_lib.sh"
BUILD_ARG="" DELETES=1000 RATE=200 INITIAL=100000 BULK=0 WRITERS=0 REBUILD_EVERY=0 ETCD_WRITES=0
ETCD_ON_TMPFS=0 ETCD_MEMBERS=3
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) BUILD_ARG=$2; shift ;;
    --deletes) DELETES=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --initial) INITIAL=$2; shift ;;
    --bulk) BULK=$2; shift ;;
    --writers) WRITERS=$2; shift ;;
    --rebuild-every) REBUILD_EVERY=$2; shift ;;
    --digest-interval) export DIGEST_INTERVAL=$2; shift ;;
    --etcd-writes) ETCD_WRITES=$2; shift ;;
    --etcd-on-tmpfs) ETCD_ON_TMPFS=1 ;;
    --etcd-members) ETCD_MEMBERS=$2; shift ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done
BUILD=$(find_build_dir "$BUILD_ARG")
locate_artifacts "$BUILD"
export KEYTOOL KEYAUTH_SYNC=${KEYAUTH_SYNC_BIN:-$BUILD/sync/keyauth-sync} NGINX_MODULE PLUGIN=$MOSQUITTO_PLUGIN
export TESTLIB=$REPO_DIR/tests/integration/lib.sh
source "$REPO_DIR/tests/integration/fleet/fleet_lib.sh"
trap 'exit 130' INT TERM

MEMBERS=($(seq "$ETCD_MEMBERS"))
if [ "$ETCD_ON_TMPFS" -eq 1 ]; then
    ETCD_SHM=$(mktemp -d /dev/shm/keyauth-bench-etcd.XXXXXX)
    at_exit "rm -rf $ETCD_SHM"
    for i in "${MEMBERS[@]}"; do mkdir -m 700 "$ETCD_SHM/etcd$i"; ln -s "$ETCD_SHM/etcd$i" "$WORK/etcd$i"; done
    echo "== etcd's data directories on tmpfs ($ETCD_SHM): not durable, for this measurement only"
fi
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
    [ "$BULK" -eq 0 ] || "$BENCH_DIR/fleet_records.py" "$FIRST" "$BULK" bulk >&2
    wait_until 120 "$((DELETES + BULK)) clients on every host" every_host_has "$((DELETES + BULK))"
    load=()  # background load, stopped when the deletes are done
    for w in $(seq "$WRITERS"); do
        (n=0; while [ ! -e "$WORK/stop" ]; do
            n=$((n + 1))
            admin gen "load$w-$n" --output "$WORK/load$w" >/dev/null 2>&1
            [ $((n % 2)) -ne 0 ] || admin del "load$w-$((n - 1))" >/dev/null 2>&1
        done) & load+=($!)
    done
    if [ "$REBUILD_EVERY" -gt 0 ]; then
        (while [ ! -e "$WORK/stop" ]; do
            sleep "$REBUILD_EVERY"; kill -USR1 "${SYNC_PID[1]}" "${SYNC_PID[2]}" "${SYNC_PID[3]}"
        done) & load+=($!)
    fi
    if [ "$ETCD_WRITES" -gt 0 ]; then
        "$BENCH_DIR/fleet_records.py" "$FIRST" 0 etcdload --rate "$ETCD_WRITES" --until "$WORK/stop" &
        load+=($!)
        sleep 2  # the load under way before the first delete
    fi
    echo "== revocation across 3 hosts (nginx on each), $DELETES deletes," \
        "$BULK more clients, $WRITERS writers, $ETCD_WRITES etcd writes/s," \
        "SIGUSR1 every ${REBUILD_EVERY}s (0: none)," \
        "digest check every ${DIGEST_INTERVAL:-30}s"
    "$BENCH_DIR/fleet_revocation.py" --ports "${NGINX_PORT[1]},${NGINX_PORT[2]},${NGINX_PORT[3]}" \
        --tokens "$WORK/tokens" -- "$KEYTOOL" --registry "$ADMIN" --etcd "$ETCD" -- \
        $(seq -f "rev%07g" 0 $((DELETES - 1)))
    touch "$WORK/stop"
    [ "${#load[@]}" -eq 0 ] || wait "${load[@]}" || true
    for i in 1 2 3; do
        echo "   host $i: $(grep -c 'rebuilt the registry' "$WORK/sync$i.log") rebuilds," \
            "$(grep -c 'digest mismatch' "$WORK/sync$i.log") digest mismatches"
    done
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
