#!/bin/bash
# POST /api/v1/clients/{id}/rotate (issue 17): the new certificate, key and
# token once, as generate answers them; the old token keeps working for the
# grace (keytool verify), and without a grace stops at once.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
console_login

# token_of ANSWER_FILE ID: the token file in a generate or rotate answer.
token_of() {
    python3 - "$1" "$2" <<'PY'
import json, sys
for f in json.load(open(sys.argv[1]))["files"]:
    if f["name"] == sys.argv[2] + "_token":
        print(f["contents"].strip())
PY
}
verdict() { keytool verify "$1" || true; }

create_client sensor-1
create_client sensor-2
old=$(cat sensor-1_token)
expect_contains "$(verdict "$old")" "valid: client sensor-1" "the first token"

answer=$(api POST /api/v1/clients/sensor-1/rotate -H 'Content-Type: application/json' \
    -d '{"grace":"1d","days":30}')
expect_eq "${answer%% *}" 201 "rotate sensor-1: ${answer#* }"
printf '%s' "${answer#* }" >"$WORK/rotated.json"
new=$(token_of "$WORK/rotated.json" sensor-1)
[[ "$new" =~ ^sensor-1:b:[0-9a-f]{64}$ ]] || fail "no new token in the rotation's answer"
[ "$new" != "$old" ] || fail "the rotation handed out the old token"
for field in '"files":' '"zip":' '_key.pem' 'PRIVATE KEY' '"previous_valid_until":' \
    '"state":"active"'; do
    expect_contains "${answer#* }" "$field" "the rotation's answer"
done
expect_contains "$(verdict "$new")" "valid: client sensor-1" "the new token"
expect_contains "$(verdict "$old")" "valid: client sensor-1" "the old token in its grace"
shown=$(api GET /api/v1/clients/sensor-1)
expect_eq "${shown%% *}" 200 "show sensor-1"
expect_not_contains "$shown" "$new" "show after the rotation (new token)"
expect_not_contains "$shown" '"files"' "show after the rotation"
expect_contains "$shown" '"previous_valid_until":' "show after the rotation"
pass "rotate with a grace: the new keys once, the old token valid for the grace"

# No grace (an empty body): the old token ends at once.
answer=$(api POST /api/v1/clients/sensor-2/rotate)
expect_eq "${answer%% *}" 201 "rotate sensor-2 without a body: ${answer#* }"
printf '%s' "${answer#* }" >"$WORK/rotated2.json"
expect_contains "$(verdict "$(cat sensor-2_token)")" "invalid:" "sensor-2's old token without a grace"
expect_contains "$(verdict "$(token_of "$WORK/rotated2.json" sensor-2)")" "valid: client sensor-2" \
    "sensor-2's new token"
# As a zip, as generate answers it.
status=$(curl -s -o "$WORK/rotated.zip" -w '%{http_code}' -H "Authorization: Bearer $SESSION" \
    -X POST "$CONSOLE/api/v1/clients/sensor-2/rotate?format=zip")
expect_eq "$status" 201 "rotate as a zip"
(mkdir unzipped && cd unzipped && unzip -q "$WORK/rotated.zip")
expect_contains "$(verdict "$(cat unzipped/sensor-2_token)")" "valid: client sensor-2" "the zip's token"
pass "rotate without a grace ends the old token; ?format=zip answers the bundle"

expect_no_secret_in_console_log sensor-1_token sensor-2_token
pass "rotate through the console API"
