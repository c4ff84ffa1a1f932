#!/bin/bash
# The seed's page in real headless Chromium (puppeteer-core): log in, generate,
# see the keys once, download the zip, use the token through nginx, delete.
# Screenshots: $WORK/screenshots, copied to $SCREENSHOT_DIR when set.
NGINX_TESTS=$(cd "$(dirname "$0")/../nginx" && pwd)
source "$NGINX_TESTS/nginx_lib.sh"
source "$(dirname "$0")/console_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
install_puppeteer

init_registry
keytool gen myapp01 >/dev/null
start_protected_proxy
start_console

run_in_chromium "$HERE/browser_console.cjs" "$LOGIN_LINK" "$WORK" "$URL"

# What the browser downloaded is the bundle of the token it showed.
(mkdir unzipped && cd unzipped && unzip -q "$WORK/downloads/webapp01.zip")
expect_eq "$(cat unzipped/webapp01_token)" "$(cat webapp01_token)" "the zip's token"
cmp -s "$WORK/downloads/ca_cert.pem" "$KEYAUTH_REGISTRY/ca_cert.pem" || fail "downloaded CA differs"
expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer $(cat webapp01_token)")" \
    "401 $INVALID_TOKEN_BODY" "the token deleted in the browser, through nginx"
listed webapp01 && fail "webapp01 still listed"
listed myapp01 || fail "myapp01 lost"
expect_clean_error_log webapp01_token
expect_no_secret_in_console_log webapp01_token
pass "log in, generate, download, use through nginx and delete in Chromium"
