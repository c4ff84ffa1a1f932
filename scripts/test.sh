#!/usr/bin/env bash
# Runs every test: unit (CMocka), integration (real keytool, mosquitto,
# nginx, curl, openssl), fuzz smoke runs, then the whole suite again under
# AddressSanitizer and UBSan. Needs root: the servers drop to their Debian
# users, and some tests mount a tmpfs or act as an unprivileged user.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-packages.sh"

echo "== build and test"
"$top/scripts/build.sh" "$top/build"
ctest --test-dir "$top/build" --output-on-failure -j2 -LE 'fuzz|bench'
