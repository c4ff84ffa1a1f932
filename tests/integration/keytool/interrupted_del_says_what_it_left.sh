# Ctrl-C (SIGINT), a closed terminal (SIGHUP) or a kill (SIGTERM) during a
# write: keytool either finishes the change and says so, or leaves the
# registry unchanged and says so; never half of one. The writer is frozen at
# a point of its commit (the test hook KEYAUTH_TEST_STOP_AT), signalled, then
# let go.
source "$TESTLIB"

keytool init >/dev/null
# del_interrupted POINT SIGNAL: runs `keytool del victim`, frozen at POINT,
# sends SIGNAL, lets it go; prints its stderr and exit code.
del_interrupted() {
    KEYAUTH_TEST_STOP_AT=$1 "$KEYTOOL" del victim >out 2>err &
    local pid=$!
    for _ in $(seq 1 100); do
        [ "$(ps -o stat= -p "$pid" | cut -c1)" = "T" ] && break
        sleep 0.05
    done
    [ "$(ps -o stat= -p "$pid" | cut -c1)" = "T" ] || fail "keytool did not reach $1"
    kill -s "$2" "$pid"
    kill -s CONT "$pid"
    local rc=0
    wait "$pid" || rc=$?
    echo "$rc $(cat err)"
}

for signal in INT HUP TERM; do
    keytool gen victim --force --output victim >/dev/null
    # Inside the commit: the signal waits for the publish, then stops keytool.
    result=$(del_interrupted lmdb-committed "$signal")
    expect_contains "$result" "interrupted after the change was committed and published" \
        "SIG$signal inside the commit"
    [ "${result%% *}" -ge 128 ] || fail "keytool should end by SIG$signal: $result"
    if keytool verify - <victim_token >/dev/null 2>&1; then
        fail "SIG$signal inside the commit: victim still valid"
    fi

    keytool gen victim --output victim --force >/dev/null
    # Before the commit: nothing changes.
    result=$(del_interrupted before-commit "$signal")
    expect_contains "$result" "interrupted; the registry was not changed" \
        "SIG$signal before the commit"
    keytool verify - <victim_token >/dev/null || fail "SIG$signal before the commit: victim lost"
done
pass "an interrupted keytool finishes or abandons its change, and says which"
