#!/usr/bin/env bash
# Installs the Debian 12 packages keyauth builds, tests and demos with.
# Quick and quiet when they are all there already.
set -euo pipefail
cd "$(dirname "$0")"
mapfile -t packages < <(grep -v '^#' debian-packages.txt | sed '/^$/d')
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
    # A tool another package provides (npm inside a nodejs that bundles it) is there too.
    command -v "$p" >/dev/null 2>&1 && continue
    missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-packages: need root to install: ${missing[*]}" >&2
    exit 1
fi
echo "install-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Services Debian starts on install are left running: the tests and the demo
# start their own servers on ports of their own, and a production host's
# nginx and mosquitto are what keyauth plugs into.
