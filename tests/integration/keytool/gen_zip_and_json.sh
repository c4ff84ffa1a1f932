# gen --zip saves the seed's bundle; --json describes what was saved.
source "$TESTLIB"
keytool init >/dev/null

json=$(keytool gen myapp01 --zip ./myapp01.zip --json 2>/dev/null)
expect_contains "$json" '"id":"myapp01"' "json id"
expect_contains "$json" '"token":"./myapp01_token"' "json token path"
expect_contains "$json" '"zip":"./myapp01.zip"' "json zip path"
expect_not_contains "$json" "$(cut -d: -f3 myapp01_token)" "json must not hold the secret"
expect_mode myapp01.zip 600

mkdir unpacked && (cd unpacked && unzip -q ../myapp01.zip)
for f in myapp01_cert.pem myapp01_key.pem myapp01_token; do
    cmp -s "unpacked/$f" "$f" || fail "$f in the zip differs"
done
expect_mode unpacked/myapp01_key.pem 600
expect_mode unpacked/myapp01_cert.pem 644
unzip -tq myapp01.zip >/dev/null || fail "zip fails its own test"
pass "zip bundle and json"
