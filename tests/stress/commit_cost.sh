#!/bin/bash
# What a commit costs, two builds side by side (docs/BENCHMARKS.md, "What a
# commit costs now"). Registries are copied first (core_bench
# --populate-only makes them); nothing is changed in place.
#
#   commit_cost.sh del  KEYTOOL-A REGISTRY-A KEYTOOL-B REGISTRY-B [RUNS]
#       keytool show, then keytool del, of RUNS clients, A and B interleaved
#       (wall clock, medians); then 15 more dels of each under strace: the
#       sync calls per del and the time spent in them.
#   commit_cost.sh grow KEYTOOL REGISTRY [MAX] [time]
#       keytool gen until lookup.idx is replaced by a new file (growth);
#       that gen's wall time and its syncs (strace), or with "time" its
#       CPU and peak RSS (/usr/bin/time) instead.
set -euo pipefail
work=$(mktemp -d /tmp/keyauth-commit-cost.XXXXXX)
trap 'rm -rf "$work"' EXIT
ms() { echo $(( ($2 - $1) / 1000000 )); }
now() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ids_of() { cut -d: -f1 "$1/bench-tokens.txt"; }  # core_bench keeps 4 096 of its clients' tokens

case ${1:-} in
del)
    runs=${6:-30}
    declare -A kt reg
    kt[A]=$2 kt[B]=$4
    for v in A B; do
        src=$([ $v = A ] && echo "$3" || echo "$5")
        cp -a "$src" "$work/$v"
        reg[$v]=$work/$v
        ids_of "$src" >"$work/ids.$v"
        "${kt[$v]}" --registry "${reg[$v]}" show "$(sed -n "$((runs + 100))p" "$work/ids.$v")" >/dev/null
    done
    sync
    for i in $(seq 1 "$runs"); do
        for v in A B; do
            id=$(sed -n "${i}p" "$work/ids.$v")
            s=$(now); "${kt[$v]}" --registry "${reg[$v]}" show "$id" >/dev/null; e=$(now)
            ms "$s" "$e" >>"$work/show.$v"
            s=$(now); "${kt[$v]}" --registry "${reg[$v]}" del "$id" >/dev/null; e=$(now)
            ms "$s" "$e" >>"$work/del.$v"
        done
    done
    for v in A B; do
        echo "$v (${kt[$v]}): keytool show median $(median <"$work/show.$v") ms, keytool del median $(median <"$work/del.$v") ms ($runs each)"
    done
    for v in A B; do
        for id in $(sed -n "$((runs + 200)),$((runs + 214))p" "$work/ids.$v"); do
            strace -f -T -e trace=fdatasync,fsync,msync,pwrite64 -o "$work/st.$v.$id" \
                "${kt[$v]}" --registry "${reg[$v]}" del "$id" >/dev/null
        done
        # A pwrite64 on LMDB's O_DSYNC descriptor is its meta page's sync.
        cat "$work"/st.$v.* | grep -v '+++' | awk -v v=$v '
            { call = $2; sub(/\(.*/, "", call); t = $NF; gsub(/[<>]/, "", t)
              if (call ~ /msync/) { match($0, /, [0-9]+, MS_SYNC/); len = substr($0, RSTART + 2, RLENGTH - 11) + 0
                                    call = call "(" (len > 65536 ? "whole copy/file" : len " bytes") ")" }
              n[call]++; s[call] += t; total += t }
            END { for (c in n) printf "  %s %-24s %4.1f per del, %6.2f ms per del\n", v, c, n[c] / 15, s[c] * 1000 / 15
                  printf "  %s all of them: %.2f ms per del\n", v, total * 1000 / 15 }'
    done
    ;;
grow)
    keytool=$2 max=${4:-1000} mode=${5:-strace}
    cp -a "$3" "$work/r"
    mkdir "$work/out"
    sync
    "$keytool" --registry "$work/r" show "$(ids_of "$3" | head -1)" >/dev/null
    inode=$(stat -c %i "$work/r/lookup.idx")
    for i in $(seq 1 "$max"); do
        s=$(now)
        if [ "$mode" = time ]; then
            /usr/bin/time -f "%e s elapsed, %U s user, %S s sys, %M kB peak RSS" -o "$work/trace" \
                "$keytool" --registry "$work/r" gen "grow$i" --output "$work/out" >/dev/null
        else
            strace --seccomp-bpf -f -T -e trace=fdatasync,fsync,msync,fallocate,rename \
                -o "$work/trace" "$keytool" --registry "$work/r" gen "grow$i" --output "$work/out" >/dev/null
        fi
        e=$(now)
        rm -f "$work"/out/*
        if [ "$(stat -c %i "$work/r/lookup.idx")" != "$inode" ]; then
            echo "gen #$i made a new lookup.idx ($(stat -c %s "$work/r/lookup.idx") bytes): $(ms "$s" "$e") ms;" \
                 "the gens before it: median $(median <"$work/gens") ms"
            cat "$work/trace"
            exit 0
        fi
        ms "$s" "$e" >>"$work/gens"
    done
    echo "no new lookup.idx in $max gens"
    exit 1
    ;;
*)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
