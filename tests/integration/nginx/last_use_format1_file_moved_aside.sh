#!/bin/bash
# Upgrading keyauth: a last-use file an older version wrote (format 1) is
# moved aside to FILE.format1 by the first write, a table takes its name,
# and keytool reads both (the later time per client) until the operator
# removes the old one.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
start_proxy_recording_last_use

# format 1 as an older keyauth left it: myapp02 used an hour ago
OLD=$((($(date +%s) - 3600) / 60 * 60))
python3 - "$LAST_USE" "$OLD" <<'PY'
import struct, sys
def fnv1a(data, h=14695981039346656037):
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h
path, when = sys.argv[1], int(sys.argv[2])
ident = b"myapp02".ljust(64, b"\0")
stamp = struct.pack("=q", when)
check = fnv1a(stamp, fnv1a(ident)) ^ 0x6B61
with open(path, "wb") as f:
    f.write(b"keyauth last-use" + struct.pack("=II", 1, 80) + bytes(40))
    f.write(ident + stamp + struct.pack("=Q", check))
PY
chown www-data: "$LAST_USE"
chmod 640 "$LAST_USE"
expect_eq "$(last_used "$LAST_USE" myapp02)" "$OLD" "myapp02 in the format-1 file"
pass "keytool reads a format-1 last-use file as it is"

use_recorded myapp01
expect_eq "$(head -c 16 "$LAST_USE")" "keyauth lastuse2" "the file's magic after the first write"
expect_eq "$(stat -c '%U %a' "$LAST_USE.format1")" "www-data 640" "the format-1 file, moved aside"
expect_eq "$(last_used "$LAST_USE" myapp02)" "$OLD" "myapp02, from FILE.format1"
expect_eq "$(unused_clients "$LAST_USE" 10m)" "myapp02" "clients unused in the last 10 minutes"
pass "the first write moves format 1 aside; keytool reads both files"

rm "$LAST_USE.format1"
expect_eq "$(last_used "$LAST_USE" myapp02)" "None" "myapp02 once FILE.format1 is removed"
expect_contains "$(keytool show myapp01 --last-use "$LAST_USE")" "(at least this recent)" \
    "myapp01 from the table"
pass "FILE.format1 removed: the table alone"

expect_clean_error_log ./myapp01_token ./myapp02_token
