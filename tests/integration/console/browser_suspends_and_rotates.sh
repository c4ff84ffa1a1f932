#!/bin/bash
# Suspend, filter by state, rotate with a grace and resume in real headless
# Chromium (puppeteer-core), checked with keytool verify (issue 17).
# Screenshots: $WORK/screenshots, copied to $SCREENSHOT_DIR when set.
source "$(dirname "$0")/console_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
install_puppeteer

keytool init >/dev/null
keytool gen app01 --output "$WORK" >/dev/null
keytool gen app02 --output "$WORK" >/dev/null
start_console

run_in_chromium "$HERE/browser_lifecycle.cjs" "$LOGIN_LINK" "$WORK" "$KEYTOOL"

shown=$(keytool show app02 --json)
expect_contains "$shown" '"previous_valid_until":' "app02 after the rotation in the browser"
expect_contains "$shown" '"suspended":false' "app02"
expect_contains "$(keytool show app01 --json)" '"suspended":false' "app01 after resume"
expect_no_secret_in_console_log "$WORK/app01_token" "$WORK/app02_token" "$WORK/app02_new_token"
pass "suspend, filter by state, rotate with a grace and resume in Chromium"
