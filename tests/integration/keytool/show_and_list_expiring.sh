# keytool show <id> says one client's state, validity, serial and certificate
# fingerprint; keytool list --expiring DURATION lists those that end within it.
source "$TESTLIB"
keytool init >/dev/null

keytool gen soon --days 10 >/dev/null 2>&1
keytool gen later --days 100 >/dev/null 2>&1
keytool gen ended >/dev/null 2>&1
"$SET_VALIDITY" "$KEYAUTH_REGISTRY" ended -7200 -60

out=$(keytool show soon)
expect_contains "$out" "ID                  soon" "show"
expect_contains "$out" "STATE               active" "show"
serial=$(openssl x509 -in soon_cert.pem -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
expect_contains "$out" "SERIAL              $serial" "show: the certificate's serial"
fingerprint=$(openssl x509 -in soon_cert.pem -outform DER | sha256sum | cut -d' ' -f1)
expect_contains "$out" "CERTIFICATE SHA-256 $fingerprint" "show: the certificate's fingerprint"
expect_contains "$(keytool show ended)" "STATE               expired" "show of an ended client"
json=$(keytool show soon --json)
expect_contains "$json" '{"id":"soon","state":"active","valid_from":"' "show --json"
expect_contains "$json" "\"certificate_sha256\":\"$fingerprint\"" "show --json"
if keytool show nobody 2>err; then fail "show of an unknown client succeeded"; fi
expect_eq "$(cat err)" "keytool: no client nobody" "show of an unknown client"
if keytool show 'a/b' 2>err; then fail "show of a bad id succeeded"; fi

ids() { keytool list --json "$@" | grep -o '"id":"[^"]*"' | tr '\n' ' '; }
expect_eq "$(ids --expiring 30d)" '"id":"soon" ' "--expiring 30d"
expect_eq "$(ids --expiring 101d)" '"id":"later" "id":"soon" ' "--expiring 101d"
expect_eq "$(ids --expiring 239h)" '' "--expiring 239h (soon ends in 10 days)"
expect_eq "$(ids --expiring 240h)" '"id":"soon" ' "--expiring 240h"
expect_eq "$(ids --expiring 0)" '' "--expiring 0"
expect_contains "$(keytool list --expiring 30d)" "│      1 │ soon " "--expiring in the table"
for bad in 30 -1d 1.5d 30w 99999999d ''; do
    if keytool list --expiring "$bad" >/dev/null 2>err; then fail "--expiring '$bad' accepted"; fi
done
expect_contains "$(cat err)" "needs a value" "--expiring ''"
keytool list --expiring 30x 2>err >/dev/null || true
expect_contains "$(cat err)" "a duration is a whole number with s, m, h or d" "--expiring 30x"
pass "show and list --expiring"
