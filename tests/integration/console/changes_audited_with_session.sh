#!/bin/bash
# Each change made or refused through the console is one authpriv line naming
# the console's session (a label, never its token), the browser's address and
# the user running keytool serve; never a token, key or console secret.
source "$(dirname "$0")/console_lib.sh"
source "$(dirname "$TESTLIB")/syslog_sink.sh"
start_syslog_sink
keytool init >/dev/null
audit_line 'action=init result=ok' >/dev/null
start_console
console_login
session=$(sed -n 's/.*login link used; session \([0-9a-f]\{16\}\) opened.*/\1/p' "$CONSOLE_LOG")
[ -n "$session" ] || fail "the console's log names no session: $(cat "$CONSOLE_LOG")"
who="user=$(id -un) uid=$(id -u)"

create_client sensor-7
line=$(audit_line 'action=gen client=sensor-7 result=ok')
[[ "$line" =~ ^\<85\>.*\ keytool\[$CONSOLE_PID\]:\ audit: ]] || fail "not keytool serve's authpriv.notice: $line"
expect_contains "$line" "$who via=console session=$session from=127.0.0.1 registry=$KEYAUTH_REGISTRY days=1095 serial=" "console gen"
pass "a client made in the console: via=console, the session's label, the address, who runs serve"

answer=$(api POST /api/v1/clients -H 'Content-Type: application/json' -d '{"id":"sensor-7"}')
expect_eq "${answer%% *}" 409 "a duplicate through the console"
line=$(audit_line 'action=gen client=sensor-7 result=failed')
[[ "$line" == "<84>"* ]] || fail "a refusal is not authpriv.warning: $line"
expect_contains "$line" "error=\"client sensor-7 already exists\" $who via=console session=$session" "console refusal"
answer=$(api POST /api/v1/clients -H 'Content-Type: application/json' -d '{"id":"x\ny"}')
expect_eq "${answer%% *}" 400 "a bad id through the console"
expect_contains "$(audit_line '(found byte 0x0a)')" "action=gen result=failed" "a bad id"
pass "refused in the console: the error's words, each on one line"

answer=$(api POST /api/v1/clients/sensor-7/rotate -H 'Content-Type: application/json' -d '{"grace":"1d"}')
expect_eq "${answer%% *}" 201 "rotate"
line=$(audit_line 'action=rotate client=sensor-7 result=ok')
expect_contains "$line" "$who via=console session=$session from=127.0.0.1 registry=$KEYAUTH_REGISTRY days=1095 grace=86400 serial=" "console rotate"
expect_eq "$(api POST /api/v1/clients/sensor-7/rotate -H 'Content-Type: application/json' -d '{"grace":"1y"}' | cut -d' ' -f1)" 400 "a bad grace"
audit_line "action=rotate client=sensor-7 result=failed error=\"grace: " >/dev/null
expect_eq "$(api POST /api/v1/clients/sensor-7/suspend | cut -d' ' -f1)" 200 "suspend"
audit_line "action=suspend client=sensor-7 result=ok $who via=console session=$session from=127.0.0.1" >/dev/null
expect_eq "$(api POST /api/v1/clients/sensor-7/resume | cut -d' ' -f1)" 200 "resume"
audit_line "action=resume client=sensor-7 result=ok $who via=console session=$session from=127.0.0.1" >/dev/null
expect_eq "$(api POST /api/v1/clients/sensor-7/resume | cut -d' ' -f1)" 200 "resume again"
audit_line "action=resume client=sensor-7 result=ok $who via=console session=$session from=127.0.0.1 registry=$KEYAUTH_REGISTRY unchanged=yes" >/dev/null
expect_eq "$(api POST /api/v1/clients/nobody/suspend | cut -d' ' -f1)" 404 "suspend nobody"
audit_line "action=suspend client=nobody result=failed" >/dev/null
pass "rotate, suspend and resume in the console: made, unchanged and refused, each one line"

expect_eq "$(api DELETE /api/v1/clients/sensor-7 | cut -d' ' -f1)" 200 "delete"
audit_line "action=del client=sensor-7 result=ok $who via=console session=$session from=127.0.0.1" >/dev/null
expect_eq "$(api DELETE /api/v1/clients/sensor-7 | cut -d' ' -f1)" 404 "delete again"
audit_line "action=del client=sensor-7 result=failed" >/dev/null
# Reads are not changes.
api GET /api/v1/clients >/dev/null
expect_eq "$(api GET /api/v1/clients/nobody | cut -d' ' -f1)" 404 "show of nobody"
expect_audit_count 12
pass "delete, made and refused; reads leave no line"

expect_never_logged sensor-7_token
python3 - "$WORK/sensor-7.json" >"$WORK/sensor-7_key.pem" <<'PY'
import json, sys
for f in json.load(open(sys.argv[1]))["files"]:
    if f["name"].endswith("_key.pem"):
        print(f["contents"], end="")
PY
expect_never_logged "$WORK/sensor-7_key.pem" "$KEYAUTH_REGISTRY/ca_key.pem"
log=$(cat "$AUDIT_LINES")
expect_not_contains "$log" "$LOGIN_SECRET" "audit log (login secret)"
expect_not_contains "$log" "$SESSION" "audit log (session token)"
expect_no_secret_in_console_log sensor-7_token
pass "no token, key, login secret or session token in the audit log"
