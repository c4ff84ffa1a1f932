# What the README journey tests share (sourced after "$TESTLIB"): the build's
# keytool and keyauth-sync on PATH under the names the README uses, and
# README blocks that run in the background (servers).
mkdir -p "$WORK/bin"
ln -s "$KEYTOOL" "$WORK/bin/keytool"
[ -z "${KEYAUTH_SYNC:-}" ] || ln -s "$KEYAUTH_SYNC" "$WORK/bin/keyauth-sync"
export PATH=$WORK/bin:$PATH

# readme_start NAME PIDFILE OUT [SED_EXPRESSION...]: runs a block in the
# background, its output in OUT; the expressions must make the block write
# its server's pid to PIDFILE ("echo \$\$ >PIDFILE; exec SERVER ...").
# Waits for PIDFILE, stops that pid at exit.
readme_start() {
    local name=$1 pidfile=$2 out=$3 tries=200
    shift 3
    (readme_run "$name" "$@") >"$out" 2>&1 &
    while [ ! -s "$pidfile" ]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "README block $name started nothing: $(cat "$out")"
        sleep 0.05
    done
    at_exit "readme_stop '$pidfile'"
}

# wait_until_file FILE SECONDS: FILE is there and not empty.
wait_until_file() {
    local tries=$(($2 * 20))
    until [ -s "$1" ]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "$1 still empty after $2 s"
        sleep 0.05
    done
}

# readme_stop PIDFILE: SIGTERM to the pid in it; until it has gone (KILL after 10 s).
readme_stop() {
    local pid tries=200
    pid=$(cat "$1" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || { kill -KILL "$pid" 2>/dev/null; sleep 0.1; return 0; }
        sleep 0.05
    done
}
