#!/bin/bash
# The login link opened from another page (window.open from another port of
# 127.0.0.1) logs in, in real headless Chromium; that other port never gets the
# session: no cookie exists, the header is the console page's own.
source "$(dirname "$0")/console_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
install_puppeteer

keytool init >/dev/null
keytool gen app01 --output "$WORK" >/dev/null
start_console

run_in_chromium "$HERE/browser_login_from_another_page.cjs" "$LOGIN_LINK" "$WORK" "$CONSOLE_LOG"
listed forged && fail "the other page made a client"
expect_no_secret_in_console_log "$WORK/app01_token"
pass "a login link opened from another page logs in; the other port gets no session"
