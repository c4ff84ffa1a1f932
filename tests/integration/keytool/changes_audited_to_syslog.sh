# Every change keytool makes or refuses is one authpriv line in syslog: action,
# client, result (the error's words when refused), who; never a token or key.
source "$TESTLIB"
source "$(dirname "$TESTLIB")/syslog_sink.sh"
start_syslog_sink
me="user=$(id -un) uid=$(id -u)"

keytool init --host 127.0.0.1 >/dev/null
line=$(audit_line 'action=init')
[[ "$line" =~ ^\<85\>[A-Z][a-z]{2}\ [\ 0-9][0-9]\ [0-9:]{8}\ keytool\[[0-9]+\]:\ audit:\  ]] ||
    fail "not an RFC 3164 authpriv.notice line from keytool: $line"
expect_contains "$line" "action=init result=ok $me" "init's line"
expect_contains "$line" "via=cli registry=$KEYAUTH_REGISTRY hosts=127.0.0.1 ca=new" "init's line"
pass "init: <85> (authpriv.notice), keytool[pid], result=ok, who"

keytool gen myapp01 >/dev/null
serial=$(openssl x509 -in myapp01_cert.pem -noout -serial | cut -d= -f2 | tr A-F a-f)
line=$(audit_line 'action=gen client=myapp01 result=ok')
expect_contains "$line" "$me via=cli registry=$KEYAUTH_REGISTRY days=1095" "gen's line"
expect_contains "$line" "serial=$serial" "gen's line names the certificate"
pass "gen: the client, who, and the new certificate's serial"

if keytool gen myapp01 2>/dev/null; then fail "duplicate accepted"; fi
line=$(audit_line 'action=gen client=myapp01 result=failed')
[[ "$line" == "<84>"* ]] || fail "a refusal is not authpriv.warning: $line"
expect_contains "$line" 'error="client myapp01 already exists (use --force to replace)"' "refusal's words"
pass "a refused gen: <84>, result=failed and keytool's own words"

keytool gen myapp01 --force --days 30 >/dev/null
expect_contains "$(audit_line 'replace=yes')" "client=myapp01 result=ok $me via=cli" "gen --force's line"
expect_contains "$(audit_line 'replace=yes')" "days=30 replace=yes serial=" "gen --force's line"
keytool del myapp01 >/dev/null
audit_line "action=del client=myapp01 result=ok $me" >/dev/null
if keytool del myapp01 2>/dev/null; then fail "deleted twice"; fi
expect_contains "$(audit_line 'action=del client=myapp01 result=failed')" 'error="' "second del"
pass "gen --force (replace=yes) and del, made and refused"

if keytool gen 'bad id' 2>/dev/null; then fail "bad id accepted"; fi
expect_contains "$(audit_line 'action=gen client="bad id" result=failed')" "error=" "a bad id, quoted"
keytool server-cert --issue --host host1.example --host 127.0.0.2 --output ./host1 >/dev/null
line=$(audit_line 'action=server-cert result=ok')
expect_contains "$line" "hosts=host1.example,127.0.0.2 days=" "server-cert's line"
pass "a bad id, quoted; server-cert --issue with its hosts"

expect_audit_count 8
keytool gen myapp02 --zip myapp02.zip >/dev/null
audit_line 'client=myapp02' >/dev/null
expect_never_logged myapp01_token myapp01_key.pem myapp02_token myapp02_key.pem host1_key.pem \
    "$KEYAUTH_REGISTRY/ca_key.pem" "$KEYAUTH_REGISTRY/server_key.pem"
keytool list >/dev/null
keytool show myapp02 >/dev/null
expect_audit_count 9
pass "one line per change, none for reads; no token or key in any line"
