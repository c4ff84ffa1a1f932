# gen into a directory it cannot write registers nothing.
source "$TESTLIB"

keytool init --group nogroup >/dev/null
chown -R nobody "$KEYAUTH_REGISTRY"
mkdir locked && chmod 555 locked
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$KEYTOOL" "$@"; }
if as_nobody gen myapp01 --output ./locked/myapp01 2>err; then fail "wrote into a read-only dir"; fi
expect_eq "$(cat err)" "keytool: ./locked/myapp01_cert.pem: Permission denied" "error"
expect_eq "$(ls -A locked)" "" "nothing left in the directory"
expect_eq "$(as_nobody list --json)" "[]" "nothing registered"

if as_nobody gen myapp01 --output ./missing/dir/myapp01 2>err; then fail "wrote into a missing dir"; fi
expect_eq "$(cat err)" "keytool: ./missing/dir/myapp01_cert.pem: No such file or directory" "error"
expect_eq "$(as_nobody list --json)" "[]" "nothing registered"
pass "unwritable output directory refused, nothing registered"
