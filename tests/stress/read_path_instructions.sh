#!/bin/bash
# Instructions per token check on the servers' read path, under callgrind
# (noise cannot move them): a registered client (served by the lookup cache
# after its first check) and an unknown id (a lookup.idx probe every time).
#   read_path_instructions.sh KEYTOOL CHECK_LOOP [N]
set -euo pipefail
keytool=$1 loop=$2 n=${3:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export KEYAUTH_REGISTRY=$work/registry
"$keytool" init >/dev/null
"$keytool" gen c1 --output "$work/c1" >/dev/null
echo "zz:b:$(printf 'a%.0s' $(seq 64))" >"$work/unknown_token"
instructions() {  # TOKEN-FILE COUNT
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$loop" "$KEYAUTH_REGISTRY" "$1" "$2" 2>&1 |
        awk '/Collected/ { print $4 }'
}
for token in c1_token unknown_token; do
    base=$(instructions "$work/$token" 1)
    more=$(instructions "$work/$token" $((n + 1)))
    echo "$token: $(( (more - base) / n )) instructions per check"
done
