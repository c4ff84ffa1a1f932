#!/bin/bash
# A power loss at any point of a commit: the registry files as they could be
# on disk then, and NGINX, the broker and keytool (as the servers' user)
# started on each. Every answer is the state before or after the change (the
# changed client admitted or refused; the bystander always admitted; the whole
# list one state or the other), never a mix, never a crash; `keytool list` as
# root then publishes what LMDB holds.
#
# keytool is stopped at each point and the registry copied: that is the page
# cache, one state the disk may hold. A file changed since its last sync may
# also be on disk as it was at the point before, or torn between the two (some
# of its changed pages written back, others not): those variants are made from
# the copies of consecutive points. LMDB is synced before any index change,
# and keeps its own order. What the order of syncs rules out (the counter
# naming a copy that is not durable) is made once too: the readers must then
# refuse everyone, not trust it.
source "$(dirname "$0")/faults_lib.sh"

keytool gen bystander >/dev/null
keytool gen victim >/dev/null
keytool gen other >/dev/null
keytool server-cert --output ./server.crt >/dev/null
SNAP=$WORK/snapshots
mkdir "$SNAP"
cp -a "$KEYAUTH_REGISTRY" "$SNAP/start"

# The servers' view: keytool as the broker's user reads what the servers
# read (lookup.idx and commit.seq, never LMDB).
as_server() { setpriv --reuid=mosquitto --regid=mosquitto --init-groups "$@"; }
ids_of() { grep -o '"id":"[^"]*"' | cut -d'"' -f4 | sort; }
server_ids() {
    local out rc=0
    out=$(as_server "$KEYTOOL" --registry "$1" list --json 2>&1) || rc=$?
    [ "$rc" -lt 128 ] || fail "keytool list as mosquitto on $1 died of signal $((rc - 128))"
    [ "$rc" -eq 0 ] || { echo "error"; return 0; }
    ids_of <<<"$out"
}

# snapshot FROM POINT NAME COMMAND...: runs the keytool COMMAND on a fresh
# copy of snapshot FROM, stops it at POINT, copies the registry to
# $SNAP/NAME, and kills it.
snapshot() {
    local from=$1 point=$2 name=$3
    shift 3
    rm -rf "$WORK/live"
    cp -a "$SNAP/$from" "$WORK/live"
    stop_writer_at "$point" "$KEYTOOL" --registry "$WORK/live" "$@"
    cp -a "$WORK/live" "$SNAP/$name"
    kill -KILL "$WRITER"
    wait_writer
}
# older NAME FROM FILE OLD: NAME is FROM with FILE as it was at OLD.
older() {
    cp -a "$SNAP/$2" "$SNAP/$1"
    cp -a "$SNAP/$4/$3" "$SNAP/$1/$3"
}
# torn NAME FROM FILE OLD: FROM with every other page of FILE that differs
# from OLD's as it was at OLD; prints how many pages differ.
torn() {
    cp -a "$SNAP/$2" "$SNAP/$1"
    python3 - "$SNAP/$4/$3" "$SNAP/$1/$3" <<'PY'
import sys
old = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "r+b") as f:
    new = f.read()
    differ = [p for p in range(0, len(new), 4096) if new[p:p + 4096] != old[p:p + 4096]]
    for p in differ[::2]:
        f.seek(p)
        f.write(old[p:p + 4096])
print(len(differ))
PY
}

# The cases: a registry state, the state its readers must answer from
# (before the change, after it, or closed: every admission refused), the
# state once `keytool list` as root repaired it, and which change.
CASES=()
declare -A EXPECTED REPAIRED CHANGE
add_case() { CASES+=("$1"); EXPECTED[$1]=$2 REPAIRED[$1]=$3 CHANGE[$1]=$4; }

# `keytool del victim`, stopped at each point of one commit: every copy is
# of the same change (a del from the same registry is the same commit).
for point in "${POINTS[@]}"; do snapshot start "$point" "$point" del victim; done
# Each index file not synced since the point before, as it was then or torn.
previous=
for point in "${POINTS[@]}"; do
    [ "$point" == before-commit ] || repaired=after
    [ "$point" != before-commit ] || repaired=before
    expected=before
    [ "$point" != published ] || expected=after
    add_case "$point" "$expected" "$repaired" del
    if [ -n "$previous" ]; then
        for file in lookup.idx commit.seq; do
            cmp -s "$SNAP/$previous/$file" "$SNAP/$point/$file" && continue
            # Older or torn, a file is as it was before this step: the counter
            # read from the copy of the point before.
            expected=before
            [ "$file" == commit.seq ] || [ "$point" != published ] || expected=after
            older "$point+old-$file" "$point" "$file" "$previous"
            add_case "$point+old-$file" "$expected" "$repaired" del
            if [ "$(torn "$point+torn-$file" "$point" "$file" "$previous")" -gt 1 ]; then
                add_case "$point+torn-$file" "$expected" "$repaired" del
            fi
        done
    fi
    previous=$point
done
# Ruled out by the order of syncs: the counter naming a copy never synced.
older "impossible" published lookup.idx copy-changed
add_case impossible closed after del

# A gen that takes the registry past its index's capacity (870 clients in
# 1024 slots) makes a new file: renamed in over the old one, then published.
# Each stop is its own gen (new keys), each from the registry filled to the
# brim.
cp -a "$SNAP/start" "$SNAP/full"
"$FILL_REGISTRY" "$SNAP/full" bystander fill "$(index_capacity "$SNAP/full")"
for point in before-commit lmdb-committed new-file-in-place published; do
    mkdir "$WORK/grow-$point"
    snapshot full "$point" "grow-$point" gen grower --output "$WORK/grow-$point/grower"
done
add_case grow-before-commit before before grow
add_case grow-lmdb-committed before after grow    # a staged lookup.idx.new beside the old
# The new file holds the new state in both copies, named by the counter's
# value now and the next: readers that open it see the change at once.
add_case grow-new-file-in-place after after grow
add_case grow-published after after grow
# The rename not yet durable: the old file at the path, the new one staged.
cp -a "$SNAP/grow-new-file-in-place" "$SNAP/grow-new-file-in-place+not-renamed"
mv "$SNAP/grow-new-file-in-place+not-renamed/lookup.idx" "$SNAP/grow-new-file-in-place+not-renamed/lookup.idx.new"
cp -a "$SNAP/full/lookup.idx" "$SNAP/grow-new-file-in-place+not-renamed/lookup.idx"
add_case grow-new-file-in-place+not-renamed before after grow
# The counter's store not yet durable: the value before.
older grow-published+old-commit.seq grow-published commit.seq full
add_case grow-published+old-commit.seq after after grow

BEFORE_IDS=$(server_ids "$SNAP/start")
FULL_IDS=$(server_ids "$SNAP/full")

# verdict CASE STATE CLIENT: the verdict STATE owes CLIENT.
verdict() {
    case ${CHANGE[$1]}:$2:$3 in
        *:closed:*) echo refused ;;
        *:bystander | *:other) echo admitted ;;
        del:before:* | grow:after:*) echo admitted ;;
        *) echo refused ;;
    esac
}
# ids CASE STATE: every client STATE holds.
ids() {
    case ${CHANGE[$1]}:$2 in
        *:closed) echo error ;;
        del:before) echo "$BEFORE_IDS" ;;
        del:after) grep -vx victim <<<"$BEFORE_IDS" ;;
        grow:before) echo "$FULL_IDS" ;;
        grow:after) sort <<<"$FULL_IDS"$'\n'grower ;;
    esac
}
# token CASE CLIENT: the client's token file.
token() {
    case $2 in
        grower) echo "$WORK/${1%%+*}/grower_token" ;;
        *) echo "./$2_token" ;;
    esac
}
keytool_verdict() {  # DIR TOKEN-FILE: keytool verify as the servers' user
    local out rc=0
    out=$(as_server "$KEYTOOL" --registry "$1" verify - <"$2" 2>&1) || rc=$?
    [ "$rc" -lt 128 ] || fail "keytool verify as mosquitto died of signal $((rc - 128))"
    if [ "$rc" -eq 0 ]; then
        expect_contains "$out" "valid: client $(id_of "$2")" "keytool verify"
        echo admitted
    else
        echo refused
    fi
}
certificate_verdict() {  # PREFIX: a CONNECT with the client's certificate
    if publish_with_certificate "$1" "probe" >/dev/null; then echo admitted; else echo refused; fi
}
# expect_state CASE WHAT STATE [servers]: keytool as mosquitto, and NGINX and
# the broker when asked, answer from STATE.
expect_state() {
    local case=$1 what=$2 state=$3 dir=$SNAP/$1 client token expected changed=victim
    [ "${CHANGE[$case]}" == del ] || changed=grower
    for client in bystander other "$changed"; do
        token=$(token "$case" "$client")
        expected=$(verdict "$case" "$state" "$client")
        expect_eq "$(keytool_verdict "$dir" "$token")" "$expected" "$what: keytool verify $client as mosquitto"
        [ -n "${4:-}" ] || continue
        expect_eq "$(mqtt_verdict "$token")" "$expected" "$what: the broker, $client"
        [ "$state" != closed ] || expected=unavailable
        expect_eq "$(http_verdict "${URL[$case]}" "$token")" "$expected" "$what: NGINX, $client"
    done
    [ -z "${4:-}" ] || expect_eq "$(certificate_verdict ./bystander)" "$(verdict "$case" "$state" bystander)" \
        "$what: the broker, the bystander's certificate"
    expect_eq "$(server_ids "$dir")" "$(ids "$case" "$state")" "$what: every client, as the servers list them"
}

# One NGINX serves every state, a server (port) per state; a broker is
# started on each in turn. They start on the states as the power loss left
# them: nothing has repaired them yet.
declare -A URL
read -r -a ports <<<"$(python3 -c '
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' $((${#CASES[@]} + 1)))"
UP=${ports[0]}
servers=$(upstream_server "$UP")
for i in "${!CASES[@]}"; do
    case=${CASES[$i]}
    URL[$case]=http://127.0.0.1:${ports[$((i + 1))]}/db/query
    servers+=$(KEYAUTH_REGISTRY=$SNAP/$case protected_server "${ports[$((i + 1))]}" "$UP")
done
start_nginx "$servers"

for case in "${CASES[@]}"; do
    what="${CHANGE[$case]/grow/gen growing the index}, power lost at $case"
    what=${what/del/keytool del victim}
    expect_state "$case" "$what" "${EXPECTED[$case]}"
    KEYAUTH_REGISTRY=$SNAP/$case start_broker
    pick_ports() { :; }  # the same ports for every state
    expect_state "$case" "$what" "${EXPECTED[$case]}" servers
    keytool --registry "$SNAP/$case" list >/dev/null || fail "$what: keytool list as root"
    expect_state "$case" "$what, repaired" "${REPAIRED[$case]}" servers
    expect_eq "$(keytool --registry "$SNAP/$case" list --json | ids_of)" "$(ids "$case" "${REPAIRED[$case]}")" \
        "$what, repaired: keytool list as root"
    stop_broker
    expect_eq "$BROKER_STATUS" 0 "$what: the broker's exit status"
    pass "$what: ${EXPECTED[$case]}, then ${REPAIRED[$case]} once repaired"
done
expect_clean_error_log ./bystander_token ./victim_token
pass "NGINX served every state without a crash"
