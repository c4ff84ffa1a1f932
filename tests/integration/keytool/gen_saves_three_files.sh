# keytool gen myapp01 --output ./myapp01: the seed's lines, names, modes, formats.
source "$TESTLIB"
keytool init >/dev/null
umask 000  # modes must not depend on the umask

out=$(keytool gen myapp01 --output ./myapp01 2>/dev/null)
expect_eq "$out" "Save certificate ./myapp01_cert.pem
Save private key ./myapp01_key.pem
Save token ./myapp01_token" "gen output"

expect_mode myapp01_cert.pem 644
expect_mode myapp01_key.pem 600
expect_mode myapp01_token 600
[[ "$(cat myapp01_token)" =~ ^myapp01:b:[0-9a-f]{64}$ ]] || fail "token format: $(wc -c <myapp01_token) bytes"
expect_eq "$(wc -l <myapp01_token)" "1" "token file is one line"
grep -q 'BEGIN PRIVATE KEY' myapp01_key.pem || fail "key is not PEM"

# Without --output the prefix is ./<id>.
out=$(keytool gen other 2>/dev/null)
expect_contains "$out" "Save token ./other_token" "default prefix"
[ -f other_cert.pem ] || fail "default prefix files"
pass "gen saves certificate 0644, key 0600, token 0600"
