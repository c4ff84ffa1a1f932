# gen of an existing id is refused, touching neither files nor registry;
# --force replaces token and certificate both.
source "$TESTLIB"
keytool init >/dev/null

keytool gen myapp01 >/dev/null 2>&1
old_token=$(cat myapp01_token)
old_fp=$(openssl x509 -in myapp01_cert.pem -noout -fingerprint -sha256)
before=$(tree_snapshot "$WORK")

if keytool gen myapp01 2>err; then fail "duplicate accepted"; fi
expect_eq "$(cat err)" "keytool: client myapp01 already exists (use --force to replace)" "error"
expect_eq "$(tree_snapshot "$WORK")" "$before" "files and registry after a refused duplicate"

# Elsewhere too: the id, not the file names, is what is taken.
if keytool gen myapp01 --output ./elsewhere 2>/dev/null; then fail "duplicate accepted elsewhere"; fi
[ ! -e elsewhere_token ] || fail "files written for a duplicate"

out=$(keytool gen myapp01 --force 2>/dev/null)
expect_contains "$out" "Save token ./myapp01_token" "--force output"
[ "$(cat myapp01_token)" != "$old_token" ] || fail "--force kept the token"
[ "$(openssl x509 -in myapp01_cert.pem -noout -fingerprint -sha256)" != "$old_fp" ] || fail "--force kept the certificate"
if keytool verify "$old_token" >/dev/null; then fail "old token still valid after --force"; fi
keytool verify - <myapp01_token >/dev/null || fail "new token invalid after --force"
expect_eq "$(keytool list --json | grep -c '"id"')" "1" "one client after --force"
pass "duplicate refused untouched; --force replaces"
