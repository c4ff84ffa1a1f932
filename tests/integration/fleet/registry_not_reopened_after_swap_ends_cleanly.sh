# After a rebuild's swap keyauth-sync opens the new registry; if that fails
# (a disk error, a full disk, a permission changed under it) it holds no
# registry: it logs why and ends (exit 1), for the supervisor (systemd:
# Restart=always) to start it afresh, and never runs a step on none (it
# crashed on a null registry at its next rebuild). An LD_PRELOAD shim fails
# LMDB's open of the live registry (not PATH.rebuild.XXXXXX) while a file exists.
source "$FLEET_LIB"
start_fleet alice

cat >"$WORK/fail_reopen.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
typedef struct MDB_env MDB_env;
int mdb_env_open(MDB_env* env, const char* path, unsigned int flags, unsigned int mode) {
    int (*real)(MDB_env*, const char*, unsigned int, unsigned int) =
        (int (*)(MDB_env*, const char*, unsigned int, unsigned int))dlsym(RTLD_NEXT, "mdb_env_open");
    const char* trigger = getenv("FAIL_REOPEN_TRIGGER");
    const int rebuild = strstr(path, ".rebuild.") != NULL;
    if (trigger != NULL && access(trigger, F_OK) == 0 && !rebuild)
        return EIO;
    return real(env, path, flags, mode);
}
C
cc -shared -fPIC -o "$WORK/fail_reopen.so" "$WORK/fail_reopen.c" -ldl || fail "the shim"

LD_PRELOAD="${MOSQUITTO_PRELOAD:+$MOSQUITTO_PRELOAD }$WORK/fail_reopen.so" \
    FAIL_REOPEN_TRIGGER="$WORK/fail-reopen" start_host 1
wait_on_host 1 valid ./alice_token 10
touch "$WORK/fail-reopen"
kill -USR1 "${SYNC_PID[1]}"
ended() { ! kill -0 "${SYNC_PID[1]}" 2>/dev/null; }
wait_until 20 "keyauth-sync ended after the failed reopen" ended
status=0
wait "${SYNC_PID[1]}" || status=$?
expect_eq "$status" 1 "keyauth-sync's exit status (1: ended, not a crash: 139 SIGSEGV, 134 abort)"
expect_contains "$(cat "$WORK/sync1.log")" "the registry could not be opened again" "the log says why"
pass "the registry not opened again after a swap: keyauth-sync logs why and ends (exit 1), no crash"

rm "$WORK/fail-reopen"
start_host 1
wait_on_host 1 valid ./alice_token 10
pass "started afresh (as systemd does): it opens the registry and serves"
