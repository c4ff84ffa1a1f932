# What the trust-boundary tests share: acting as a server's user against
# the registry, the way an attacker who runs code as that user would.

# as_user USER CMD...: CMD as USER with USER's own groups (the registry's
# group among them when the registry was made for USER).
as_user() {
    local user=$1
    shift
    setpriv --reuid="$user" --regid="$user" --init-groups "$@"
}

# expect_registry_read_only_for USER: USER can change nothing in the registry.
expect_registry_read_only_for() {
    local user=$1 r=$KEYAUTH_REGISTRY f
    expect_eq "$(as_user "$user" find "$r" -writable)" "" "files $user can write"
    for f in data.mdb lookup.idx commit.seq writer.lock; do
        if as_user "$user" python3 -c 'import sys; open(sys.argv[1], "r+b")' "$r/$f" 2>/dev/null; then
            fail "$user opened $f for writing"
        fi
    done
    if as_user "$user" touch "$r/lock.mdb" 2>/dev/null; then
        fail "$user created lock.mdb"
    fi
    [ ! -e "$r/lock.mdb" ] || fail "the registry has an LMDB lock file"
}

# hold_every_lock USER: in the background, USER holds every lock a reader's
# file descriptors allow (flock exclusive, POSIX read locks) on every
# registry file it can open and a shared flock on the directory, until
# killed. Its pid in LOCKER_PID.
hold_every_lock() {
    as_user "$1" python3 - "$KEYAUTH_REGISTRY" <<'PY' &
import fcntl, os, sys, time
held = []
for name in os.listdir(sys.argv[1]):
    path = os.path.join(sys.argv[1], name)
    try:
        f = open(path, "rb")
    except OSError:
        continue
    for how in (lambda: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB),
                lambda: fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB)):
        try:
            how()
        except OSError:
            pass
    held.append(f)
# The directory itself too: keytool init once locked it.
directory = os.open(sys.argv[1], os.O_RDONLY)
try:
    fcntl.flock(directory, fcntl.LOCK_SH | fcntl.LOCK_NB)
except OSError:
    pass
print("holding", len(held) + 1, flush=True)
time.sleep(120)
PY
    LOCKER_PID=$!
    at_exit "kill $LOCKER_PID 2>/dev/null || true"
    sleep 0.5
}

# keytool_within SECONDS ARGS...: keytool must finish (successfully) in time.
keytool_within() {
    local seconds=$1 out
    shift
    out=$(timeout "$seconds" "$KEYTOOL" "$@" 2>&1) || fail "keytool $* did not finish in ${seconds}s: $out"
}
