# The audit trail's tests: a syslog of their own (syslog_sink.py) that keyauth
# writes to through $KEYAUTH_AUDIT_SOCKET. Source it after "$TESTLIB".
#
#   start_syslog_sink                  # exports KEYAUTH_AUDIT_SOCKET
#   keytool gen myapp01
#   line=$(audit_line 'action=gen client=myapp01 result=ok')

AUDIT_LINES=$WORK/syslog.lines

start_syslog_sink() {
    export KEYAUTH_AUDIT_SOCKET=$WORK/syslog.sock
    : >"$AUDIT_LINES"
    python3 "$(dirname "$TESTLIB")/syslog_sink.py" "$KEYAUTH_AUDIT_SOCKET" "$AUDIT_LINES" &
    SINK_PID=$!
    at_exit "kill $SINK_PID 2>/dev/null"
    for _ in $(seq 100); do
        [ -S "$KEYAUTH_AUDIT_SOCKET" ] && return 0
        sleep 0.05
    done
    fail "the test's syslog socket did not appear"
}

# audit_line TEXT: the one line of the log holding TEXT (waited for, 5 s).
audit_line() {
    local found
    for _ in $(seq 100); do
        found=$(grep -F -- "$1" "$AUDIT_LINES" || true)
        [ -n "$found" ] && break
        sleep 0.05
    done
    [ -n "$found" ] || fail "no audit line with [$1] in: $(cat "$AUDIT_LINES")"
    [ "$(wc -l <<<"$found")" -eq 1 ] || fail "more than one audit line with [$1]: $found"
    echo "$found"
}

# expect_audit_count N: the log holds N lines, none of them broken.
expect_audit_count() {
    expect_eq "$(wc -l <"$AUDIT_LINES")" "$1" "audit lines in $(cat "$AUDIT_LINES")"
    expect_not_contains "$(cat "$AUDIT_LINES")" NEWLINE-IN-DATAGRAM "the audit log"
}

# expect_never_logged FILE...: no secret of the files (a token's secret, a
# key's base64 lines) is in the log.
expect_never_logged() {
    local file secret
    for file in "$@"; do
        while read -r secret; do
            [ ${#secret} -ge 16 ] || continue
            ! grep -qF -- "$secret" "$AUDIT_LINES" || fail "a secret of $file is in the audit log"
        done < <(sed -e 's/.*:b://' -e '/^-----/d' "$file")
    done
}
