/*
 * What keyauth_last_use_mark() costs on the request path, for callgrind:
 *
 *   valgrind --tool=callgrind --toggle-collect=keyauth_last_use_mark \
 *       last_use_cost steady|new-minute
 *
 * then the instructions counted over the calls it prints. "steady": 1 000
 * clients already marked this minute, marked again (what almost every
 * request pays); "new-minute": each mark the client's first in its minute.
 * Through the C facade, as the NGINX module calls it.
 */
#include <stdio.h>
#include <string.h>

#include <keyauth/keyauth.h>

#define CLIENTS 1000
#define ROUNDS 1000

int main(int argc, char **argv)
{
    char ids[CLIENTS][16];
    size_t lens[CLIENTS];
    int new_minute = argc > 1 && strcmp(argv[1], "new-minute") == 0;
    keyauth_last_use_t *lu;
    int64_t now = 1700000000;
    long calls = 0;
    int i, r;

    lu = keyauth_last_use_create("/nonexistent/last-use", 60);
    if (lu == NULL) {
        return 1;
    }
    for (i = 0; i < CLIENTS; i++) {
        lens[i] = (size_t) snprintf(ids[i], sizeof(ids[i]), "myapp%05d", i);
        keyauth_last_use_mark(lu, ids[i], lens[i], now);
    }
    for (r = 0; r < ROUNDS; r++) {
        if (new_minute) {
            now += 60;
        }
        for (i = 0; i < CLIENTS; i++) {
            keyauth_last_use_mark(lu, ids[i], lens[i], now);
            calls++;
        }
    }
    printf("%ld calls after %d first marks; pending %d\n", calls + CLIENTS, CLIENTS,
           keyauth_last_use_pending(lu));
    keyauth_last_use_free(lu);
    return 0;
}
