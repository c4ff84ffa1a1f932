#!/usr/bin/env bash
# Runs every test: unit (CMocka), integration (real keytool, mosquitto,
# nginx, curl, openssl), fuzz smoke runs, then the whole suite again under
# AddressSanitizer and UBSan. Needs root: the servers drop to their Debian
# users, and some tests mount a tmpfs or act as an unprivileged user.
set -euo pipefail
source "$(dirname "$0")/run_as_root.sh"
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-packages.sh"
jobs=$(nproc)

echo "== build and run every test"
"$top/scripts/build.sh" "$top/build"
ctest --test-dir "$top/build" --output-on-failure -j"$jobs" -LE 'fuzz|bench'

echo "== the same under AddressSanitizer and UBSan"
"$top/scripts/build.sh" "$top/build-asan" -DKEYAUTH_SANITIZE=ON -DKEYAUTH_BENCH=OFF
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir "$top/build-asan" --output-on-failure -j"$jobs" -LE 'fuzz|bench|no-sanitizer'

if [ -f "$top/tests/fuzz/CMakeLists.txt" ]; then
    echo "== fuzz smoke runs (libFuzzer)"
    "$top/scripts/build.sh" "$top/build-fuzz" -DKEYAUTH_FUZZ=ON -DKEYAUTH_BENCH=OFF \
        -DKEYAUTH_NGINX=OFF -DKEYAUTH_MOSQUITTO=OFF \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
    ctest --test-dir "$top/build-fuzz" --output-on-failure -L fuzz
fi
