#!/bin/bash
# keytool serve --last-use in real headless Chromium (puppeteer-core): the page
# shows when each client was last used, "at least", from a real nginx's
# last-use file, and filters the unused ones.
NGINX_TESTS=$(cd "$(dirname "$0")/../nginx" && pwd)
source "$NGINX_TESTS/nginx_lib.sh"
source "$(dirname "$0")/console_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
install_puppeteer

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
start_proxy_recording_last_use
use_recorded myapp01
shown=$(date -u -d "@$(last_used "$LAST_USE" myapp01)" '+%Y-%m-%d %H:%M UTC')
start_console --last-use "$LAST_USE"

run_in_chromium "$HERE/browser_last_use.cjs" "$LOGIN_LINK" "$WORK" myapp01 "$shown" myapp02

expect_clean_error_log ./myapp01_token
expect_no_secret_in_console_log ./myapp01_token
pass "the page shows last use (at least) and filters clients unused for more than N days"
