# With no syslog to take the audit line (a container without /dev/log, a
# socket nobody reads), every change is made and reported as before.
source "$TESTLIB"

export KEYAUTH_AUDIT_SOCKET=$WORK/no-such-socket
keytool init >/dev/null 2>err || fail "init without syslog: $(cat err)"
keytool gen myapp01 >out 2>err || fail "gen without syslog: $(cat err)"
expect_eq "$(cat err)" "" "gen's stderr without syslog"
expect_contains "$(cat out)" "Save token ./myapp01_token" "gen's output without syslog"
if keytool gen myapp01 2>err; then fail "duplicate accepted without syslog"; fi
expect_eq "$(cat err)" "keytool: client myapp01 already exists (use --force to replace)" "refusal"
keytool del myapp01 >/dev/null || fail "del without syslog"
pass "no syslog socket: changes made, refusals refused, nothing else said"

# A syslog that takes nothing (bound, never read, its queue full): each line
# waits at most a second, then the change goes on.
python3 - "$WORK/deaf.sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
s.bind(sys.argv[1])
time.sleep(120)
PY
deaf=$!
at_exit "kill $deaf 2>/dev/null"
for _ in $(seq 100); do [ -S "$WORK/deaf.sock" ] && break; sleep 0.05; done
export KEYAUTH_AUDIT_SOCKET=$WORK/deaf.sock
# Fill its queue first.
python3 - "$WORK/deaf.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(sys.argv[1])
s.setblocking(False)
try:
    while True:
        s.send(b"x" * 4096)
except BlockingIOError:
    pass
PY
start=$(date +%s%N)
keytool gen myapp02 >/dev/null 2>err || fail "gen with a deaf syslog: $(cat err)"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$elapsed_ms" -lt 5000 ] || fail "gen waited $elapsed_ms ms for a deaf syslog"
keytool verify - <myapp02_token >/dev/null || fail "myapp02 not registered"
pass "a syslog that never reads delays a change by at most its second ($elapsed_ms ms)"
