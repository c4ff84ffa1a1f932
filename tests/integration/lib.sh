# Shared helpers for the integration tests. Source it; each test script then
# reads like the commands a user types.
set -euo pipefail

: "${KEYTOOL:?KEYTOOL must name the keytool binary}"

# The README whose marked blocks readme_block and readme_run read (before
# the cd below: TESTLIB may be a relative path).
KEYAUTH_README=${KEYAUTH_README:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/README.md}

WORK=$(mktemp -d /tmp/keyauth-test.XXXXXX)
chmod 755 "$WORK"
export KEYAUTH_REGISTRY="$WORK/registry"
cd "$WORK"

CLEANUPS=()
on_exit() {
    local rc=$?
    local i
    for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUPS[$i]}" || true
    done
    if [ "$rc" -eq 0 ]; then
        rm -rf "$WORK"
    else
        echo "FAILED (exit $rc); work directory kept: $WORK" >&2
    fi
}
trap on_exit EXIT
at_exit() { CLEANUPS+=("$1"); }

keytool() { "$KEYTOOL" "$@"; }

# How many clients a registry's lookup.idx takes before a commit makes a new
# one: its tables (slots at offset 16 of the header) at most 85 % full
# (shared/admin/src/index_writer.cpp).
index_capacity() {
    local slots
    slots=$(od -An -tu8 -j16 -N8 "$1/lookup.idx" | tr -d ' ')
    echo $((slots * 85 / 100))
}

# failing_msync_shim: builds $WORK/fail_msync.so, an LD_PRELOAD shim whose
# msync fails with EIO while $WORK/fail-msync exists (a writer's publication
# of lookup.idx failing after LMDB committed); prints what to preload.
failing_msync_shim() {
    cat >"$WORK/fail_msync.c" <<C
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <unistd.h>
int msync(void* addr, size_t length, int flags) {
    if (access("$WORK/fail-msync", F_OK) == 0) {
        errno = EIO;
        return -1;
    }
    int (*real)(void*, size_t, int) = (int (*)(void*, size_t, int))dlsym(RTLD_NEXT, "msync");
    return real(addr, length, flags);
}
C
    cc -shared -fPIC -o "$WORK/fail_msync.so" "$WORK/fail_msync.c" -ldl || fail "the msync shim"
    echo "$WORK/fail_msync.so"
}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# Review 4's squatter, a local user (nobody) against root's tools and servers.
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
# make_shared_directory: $SHARED, a sticky directory anyone may write, as
# /tmp, /var/tmp and /dev/shm are.
make_shared_directory() {
    SHARED="$WORK/shared"
    mkdir "$SHARED" && chmod 1777 "$SHARED"
}
# make_nobodys_registry: $SHARED/theirs, a registry nobody made with its own
# client mallory ($SHARED/mallory_token...), readable by every user.
make_nobodys_registry() {
    make_shared_directory
    as_nobody "$KEYTOOL" --registry "$SHARED/theirs" init >/dev/null
    as_nobody "$KEYTOOL" --registry "$SHARED/theirs" gen mallory --output "$SHARED/mallory" >/dev/null
    readable_by_all "$SHARED/theirs"
}
# readable_by_all REGISTRY: the servers' users may read it without its group.
readable_by_all() { chmod 0755 "$1" && chmod 0644 "$1/lookup.idx" "$1/commit.seq"; }

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
    [ "$1" == "$2" ] || fail "$3: expected [$2], got [$1]"
}
# expect_contains HAYSTACK NEEDLE WHAT
expect_contains() {
    [[ "$1" == *"$2"* ]] || fail "$3: expected to contain [$2], got [$1]"
}
expect_not_contains() {
    [[ "$1" != *"$2"* ]] || fail "$3: must not contain [$2]"
}
# expect_mode FILE OCTAL
expect_mode() {
    local m
    m=$(stat -c %a "$1")
    [ "$m" == "$2" ] || fail "mode of $1: expected $2, got $m"
}

# A TCP port on 127.0.0.1 that nothing listens on now, and not one this test
# was handed before (the kernel may hand a closed port out again at once: two
# etcd members were once given the same one).
free_port() {
    local port
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        port=$(python3 - <<'PY' 2>/dev/null || shuf -i 20000-60000 -n 1
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
)
        [ -n "${WORK:-}" ] || break
        grep -qx "$port" "$WORK/.ports-handed-out" 2>/dev/null || break
    done
    [ -z "${WORK:-}" ] || echo "$port" >>"$WORK/.ports-handed-out"
    echo "$port"
}

# wait_for_port PORT [SECONDS]
wait_for_port() {
    local port=$1 tries=$(( ${2:-10} * 20 ))
    while ! (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "nothing listens on port $port"
        sleep 0.05
    done
}

# A snapshot of a directory tree (names, modes, sizes, contents' hashes) to
# prove a failed command changed nothing. The writer's lock and commit
# sequence are left out: they say who writes and how often, not what is
# registered; err* are the tests' own captures of stderr.
tree_snapshot() {
    (cd "$1" && find . ! -name writer.lock ! -name commit.seq ! -name 'err*' -printf '%p %m %s\n' | sort &&
        find . -type f ! -name writer.lock ! -name commit.seq ! -name 'err*' -exec sha256sum {} + | sort)
}

# readme_block NAME: the README's indented block after "<!-- readme-test: NAME -->",
# its four leading spaces removed (empty if there is no such block).
readme_block() {
    awk -v name="$1" '$0 == "<!-- readme-test: " name " -->" { on = 1; next }
        on && /^    / { print substr($0, 5); next }
        on { exit }' "$KEYAUTH_README"
}
# readme_run NAME [SED_EXPRESSION...]: runs a block in a bash of its own with
# set -euo pipefail, after each sed expression in turn; sudo is a no-op (the
# tests run as root). A missing block, or one that fails, returns non-zero
# (under set -e, the test fails).
readme_run() {
    local name=$1 block
    shift
    block=$(readme_block "$name")
    # Returned, not exited: the caller's redirections keep the message.
    [ -n "$block" ] || { echo "FAIL: README has no block $name" >&2; return 1; }
    for e in "$@"; do block=$(sed -e "$e" <<<"$block"); done
    bash -c "set -euo pipefail; sudo() { \"\$@\"; }; $block"
}

# The registry swapped for a copy the servers' users cannot enter (a new
# inode, which readers open anew), and made readable again.
REGISTRY_COPIES=0
make_registry_unreadable() {
    REGISTRY_MODE=${REGISTRY_MODE:-$(stat -c %a "$KEYAUTH_REGISTRY")}
    REGISTRY_COPIES=$((REGISTRY_COPIES + 1))
    cp -a "$KEYAUTH_REGISTRY" "$WORK/copy"
    chmod 700 "$WORK/copy"
    mv "$KEYAUTH_REGISTRY" "$WORK/registry.$REGISTRY_COPIES" && mv "$WORK/copy" "$KEYAUTH_REGISTRY"
}
make_registry_readable() { chmod "$REGISTRY_MODE" "$KEYAUTH_REGISTRY"; }

# Last use (keyauth_last_use, plugin_opt_last_use), as keytool reports it.
# unused_clients FILE DURATION: the ids keytool list --unused names, one a line.
unused_clients() {
    keytool list --unused "$2" --last-use "$1" --json |
        python3 -c 'import json,sys; [print(c["id"]) for c in json.load(sys.stdin)]'
}
# last_used FILE ID: the Unix time keytool show gives, "None" for no record.
last_used() {
    keytool show "$2" --last-use "$1" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["last_used"])'
}
# new_last_use_file USER: sets LAST_USE to a file in $WORK/usage, a
# directory USER alone may write (the server creates the file there).
new_last_use_file() {
    mkdir "$WORK/usage"
    chown "$1": "$WORK/usage"
    chmod 700 "$WORK/usage"
    LAST_USE=$WORK/usage/last-use
}
# wait_for_minute_after TIME SECONDS: records are whole minutes; until the
# minute after TIME's has begun, then SECONDS more (a server's intervals).
wait_for_minute_after() {
    until [ "$(date +%s)" -ge $(($1 / 60 * 60 + 60)) ]; do sleep 0.2; done
    sleep "$2"
}
# wait_for_last_use FILE ID: until FILE records ID, at most 5 s.
wait_for_last_use() {
    for _ in $(seq 50); do
        [ -f "$1" ] && [ "$(last_used "$1" "$2")" != None ] && return 0
        sleep 0.1
    done
    fail "no record of $2 in $1 after 5 s"
}
# hold_lock FILE: another process holds flock(LOCK_EX) on FILE (as a server
# stopped inside its flush would) until release_lock.
hold_lock() {
    rm -f "$WORK/held"
    python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "rb")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)' "$1" "$WORK/held" &
    LOCK_HOLDER=$!
    at_exit "kill $LOCK_HOLDER 2>/dev/null || true"
    for _ in $(seq 50); do [ -f "$WORK/held" ] && return 0; sleep 0.1; done
    fail "the lock holder did not start"
}
# hold_writer_lock REGISTRY SECONDS: another writer holds REGISTRY's
# writer.lock (an OFD lock on its first byte, as keytool's) for SECONDS;
# returns once it is held, the holder's pid in $WRITER_LOCK_HOLDER.
hold_writer_lock() {
    rm -f "$WORK/writer-lock-held"
    python3 - "$1/writer.lock" "$WORK/writer-lock-held" "$2" <<'PY' &
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 1, 0))
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
PY
    WRITER_LOCK_HOLDER=$!
    at_exit "kill $WRITER_LOCK_HOLDER 2>/dev/null || true"
    for _ in $(seq 50); do [ -f "$WORK/writer-lock-held" ] && return 0; sleep 0.1; done
    fail "the writer.lock holder did not start"
}
release_lock() {
    kill "$LOCK_HOLDER"
    wait "$LOCK_HOLDER" 2>/dev/null || true
}
