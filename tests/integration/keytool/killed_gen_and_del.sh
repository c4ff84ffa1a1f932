# keytool killed with SIGKILL at random moments during gen and del, 120
# times: the registry always opens, holds exactly the completed operations,
# and no output file is ever half-written.
source "$TESTLIB"

keytool init >/dev/null
for i in $(seq 1 120); do
    if [ $((RANDOM % 3)) -eq 0 ] && [ "$i" -gt 1 ]; then
        "$KEYTOOL" del "c$((RANDOM % (i - 1) + 1))" >/dev/null 2>&1 &
    else
        "$KEYTOOL" gen "c$i" >/dev/null 2>&1 &
    fi
    pid=$!
    sleep "$(printf '0.%03d' $((RANDOM % 30)))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done

listed=$(keytool list --json | { grep -o "\"id\":\"[^\"]*\"" || true; } | cut -d\" -f4 | sort)
for id in $listed; do
    # A registered client's files were linked before its commit: whole and valid.
    [ -f "${id}_token" ] || fail "$id registered without a token file"
    keytool verify - <"${id}_token" >/dev/null || fail "$id registered but its token file is not its token"
    openssl x509 -in "${id}_cert.pem" -noout 2>/dev/null || fail "$id certificate half-written"
    fp_file=$(openssl x509 -in "${id}_cert.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
    expect_contains "$(keytool list --json)" "\"certificate_sha256\":\"$fp_file\"" "$id certificate is the registered one"
done
for f in c*_token; do
    [ -e "$f" ] || continue
    [[ "$(cat "$f")" =~ ^c[0-9]+:b:[0-9a-f]{64}$ ]] || fail "$f half-written"
    # Files of a gen killed before its commit, or of a deleted client, are dead.
    id=${f%_token}
    if ! grep -qx "$id" <<<"$listed"; then
        if keytool verify - <"$f" >/dev/null; then fail "$id is not listed but its token verifies"; fi
    fi
done
for f in c*_key.pem; do
    [ -e "$f" ] || continue
    openssl pkey -in "$f" -noout 2>/dev/null || fail "$f half-written"
done
ls -a | grep -q '\.tmp$' && fail "temporary files left behind"
echo "$(echo "$listed" | wc -w) clients registered after 120 interrupted operations"

# And it still works.
keytool gen after-the-storm >/dev/null 2>&1 || fail "gen after the kills"
keytool verify - <after-the-storm_token >/dev/null || fail "verify after the kills"
pass "SIGKILL never leaves a broken registry or a half-written file"
