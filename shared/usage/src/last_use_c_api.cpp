// keyauth.h's last-use entry points over LastUseRecorder: nothing thrown
// across, nothing logged.
#include <cstdio>
#include <new>

#include "keyauth/keyauth.h"
#include "keyauth/last_use.hpp"

struct keyauth_last_use_s {
    keyauth::LastUseRecorder recorder;
};

namespace {

keyauth_last_use_outcome_t outcome_of(keyauth::FlushOutcome outcome) {
    switch (outcome) {
    case keyauth::FlushOutcome::written:
        return KEYAUTH_LAST_USE_WRITTEN;
    case keyauth::FlushOutcome::busy:
        return KEYAUTH_LAST_USE_BUSY;
    case keyauth::FlushOutcome::failed:
        return KEYAUTH_LAST_USE_FAILED;
    case keyauth::FlushOutcome::nothing:
        break;
    }
    return KEYAUTH_LAST_USE_NOTHING;
}

}  // namespace

extern "C" {

int keyauth_last_use_interval(const char *text, size_t len, int64_t *seconds, char *err,
                              size_t err_len) {
    try {
        auto parsed = keyauth::parse_last_use_interval(std::string_view(text, len));
        if (!parsed) {
            if (err_len > 0)
                std::snprintf(err, err_len, "%s", parsed.error().message.c_str());
            return -1;
        }
        *seconds = *parsed;
        return 0;
    } catch (...) {
        if (err_len > 0)
            std::snprintf(err, err_len, "out of memory");
        return -1;
    }
}

keyauth_last_use_t *keyauth_last_use_create(const char *path, int64_t interval) {
    try {
        return new keyauth_last_use_s{keyauth::LastUseRecorder(path, interval)};
    } catch (...) {
        return nullptr;
    }
}

void keyauth_last_use_free(keyauth_last_use_t *lu) {
    delete lu;
}

void keyauth_last_use_mark(keyauth_last_use_t *lu, const char *client_id, size_t client_id_len,
                           int64_t now) {
    if (lu != nullptr)
        lu->recorder.mark(std::string_view(client_id, client_id_len), now);
}

int keyauth_last_use_due(const keyauth_last_use_t *lu, int64_t now) {
    return lu != nullptr && lu->recorder.due(now);
}

int keyauth_last_use_pending(const keyauth_last_use_t *lu) {
    return lu != nullptr && lu->recorder.marks().pending() != 0;
}

int keyauth_last_use_crowded(const keyauth_last_use_t *lu) {
    return lu != nullptr && lu->recorder.crowded();
}

void keyauth_last_use_flush(keyauth_last_use_t *lu, int64_t now, keyauth_last_use_flush_t *out) {
    *out = keyauth_last_use_flush_t{};
    if (lu == nullptr)
        return;
    const keyauth::FlushReport report = lu->recorder.flush(now);
    out->outcome = outcome_of(report.outcome);
    out->written = report.written;
    out->report = report.report;
    std::snprintf(out->message, sizeof out->message, "%s", report.message.c_str());
}

}  // extern "C"
