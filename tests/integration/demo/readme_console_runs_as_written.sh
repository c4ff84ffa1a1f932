# README, "The console": its blocks as written, on the build tree and a free
# port: keytool serve prints the one-time link, the curl API block logs in
# with it, lists, makes myapp01 as a zip and deletes it.
here=$(cd "$(dirname "$0")" && pwd)
source "$TESTLIB"
source "$here/readme_lib.sh"
keytool init --host 127.0.0.1 >/dev/null

PORT=$(free_port)
readme_block console-serve | grep -qx 'sudo keytool serve' || fail "README's console-serve block changed: $(readme_block console-serve)"
readme_start console-serve "$WORK/serve.pid" serve.out \
    "s|^sudo keytool serve\$|echo \\\$\\\$ >$WORK/serve.pid; exec keytool serve --listen 127.0.0.1:$PORT|"
for _ in $(seq 200); do [ "$(wc -l <serve.out)" -ge 2 ] && break; sleep 0.05; done
LINK=$(head -1 serve.out)
[[ "$LINK" =~ ^http://127\.0\.0\.1:$PORT/#login=[0-9a-f]{64}$ ]] || fail "first line is not the login link: [$LINK]"
expect_contains "$(cat serve.out)" "console of registry $KEYAUTH_REGISTRY on http://127.0.0.1:$PORT (the link above works once)" "keytool serve's words"
pass "README: sudo keytool serve prints the one-time link"

export LINK
readme_run console-api "s|127\.0\.0\.1:5688|127.0.0.1:$PORT|g" >api.out 2>api.err ||
    fail "README console-api block: $(cat api.err)"
expect_contains "$(cat api.out)" '"total":0' "the list before myapp01"
expect_eq "$(zipinfo -1 myapp01.zip | sort | paste -sd' ')" "myapp01_cert.pem myapp01_key.pem myapp01_token" "myapp01.zip"
expect_contains "$(cat api.out)" '{"id":"myapp01","deleted":true}' "DELETE"
expect_not_contains "$(keytool list)" "myapp01" "keytool list after the DELETE"
unzip -q myapp01.zip myapp01_token
if keytool verify - <myapp01_token >/dev/null 2>&1; then fail "the deleted client's token is valid"; fi
pass "README: the curl API block logs in, lists, makes myapp01.zip and deletes myapp01"
