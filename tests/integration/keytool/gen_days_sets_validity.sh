# keytool gen --days N sets the validity of certificate and token alike.
source "$TESTLIB"
keytool init >/dev/null

keytool gen shortlived --days 7 >/dev/null 2>&1
start=$(date -d "$(openssl x509 -in shortlived_cert.pem -noout -startdate | cut -d= -f2)" +%s)
end=$(date -d "$(openssl x509 -in shortlived_cert.pem -noout -enddate | cut -d= -f2)" +%s)
expect_eq "$(( (end - start) / 86400 ))" "7" "validity in days"
out=$(keytool list --json)
expect_contains "$out" "\"not_after\":$end" "registry not_after equals certificate notAfter"
for bad in 0 -1 36501 abc 7x ""; do
    if keytool gen bad --days "$bad" >/dev/null 2>err; then fail "--days '$bad' accepted"; fi
    expect_contains "$(cat err)" "--days" "error names --days for '$bad'"
done
[ ! -e bad_token ] || fail "files written for a refused --days"
pass "--days sets validity; bad values refused"
