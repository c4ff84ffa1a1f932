// The C facade: C++ behind a C boundary no exception crosses.
#include "keyauth/keyauth.h"

#include <cstdio>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

#include "keyauth/authenticator.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/refusal_log.hpp"
#include "keyauth/registry_reader.hpp"
#include "keyauth/revocation_sweep.hpp"
#include "authenticate_http.hpp"
#include "registry_directory.hpp"

struct keyauth_registry_s {
    std::unique_ptr<keyauth::RegistryReader> registry;
};

namespace {

using keyauth::Check;
using keyauth::CredentialKind;
using keyauth::Verdict;

// The C mirrors are kept in step by the compiler.
static_assert(KEYAUTH_CLIENT_ID_MAX == keyauth::kMaxClientIdLength);
static_assert(sizeof(keyauth_result_t::client_id) == sizeof(keyauth::AuthResult::client_id_bytes));
static_assert(KEYAUTH_ACCEPTED == static_cast<int>(Verdict::accepted));
static_assert(KEYAUTH_MISSING == static_cast<int>(Verdict::missing));
static_assert(KEYAUTH_MALFORMED == static_cast<int>(Verdict::malformed));
static_assert(KEYAUTH_UNKNOWN_CLIENT == static_cast<int>(Verdict::unknown_client));
static_assert(KEYAUTH_MISMATCH == static_cast<int>(Verdict::mismatch));
static_assert(KEYAUTH_NOT_YET_VALID == static_cast<int>(Verdict::not_yet_valid));
static_assert(KEYAUTH_EXPIRED == static_cast<int>(Verdict::expired));
static_assert(KEYAUTH_REGISTRY_ERROR == static_cast<int>(Verdict::registry_error));
static_assert(KEYAUTH_NOT_VERIFIED == static_cast<int>(Verdict::not_verified));
static_assert(KEYAUTH_DIFFERENT_CLIENTS == static_cast<int>(Verdict::different_clients));
static_assert(KEYAUTH_CLIENT_ID_REFUSED == static_cast<int>(Verdict::client_id_refused));
static_assert(KEYAUTH_PASSWORD_MISSING == static_cast<int>(Verdict::password_missing));
static_assert(KEYAUTH_SUSPENDED == static_cast<int>(Verdict::suspended));
static_assert(KEYAUTH_VERDICTS == keyauth::kVerdicts);
static_assert(KEYAUTH_TOKEN == static_cast<int>(CredentialKind::token));
static_assert(KEYAUTH_CERTIFICATE == static_cast<int>(CredentialKind::certificate));
static_assert(KEYAUTH_CACHE_NOT_CONSULTED == static_cast<int>(keyauth::CacheUse::not_consulted));
static_assert(KEYAUTH_CACHE_HIT == static_cast<int>(keyauth::CacheUse::hit));
static_assert(KEYAUTH_CACHE_MISS == static_cast<int>(keyauth::CacheUse::miss));
static_assert(KEYAUTH_CACHE_USES == static_cast<int>(keyauth::CacheUse::miss) + 1);
static_assert(KEYAUTH_CHECK_OFF == static_cast<int>(Check::off));
static_assert(KEYAUTH_CHECK_WHEN_PRESENTED == static_cast<int>(Check::when_presented));
static_assert(KEYAUTH_CHECK_REQUIRED == static_cast<int>(Check::required));

// A C caller may store any int in the enum: it is read as an int (reading
// it as the C++ enum would be undefined), and an unknown value checks nothing.
Check check_of(const keyauth_check_t& field) {
    static_assert(sizeof(keyauth_check_t) == sizeof(int));
    int value = 0;
    std::memcpy(&value, &field, sizeof value);
    switch (value) {
        case KEYAUTH_CHECK_WHEN_PRESENTED:
            return Check::when_presented;
        case KEYAUTH_CHECK_REQUIRED:
            return Check::required;
        default:
            return Check::off;
    }
}

void copy_result(const keyauth::AuthResult& from, keyauth_result_t* to) {
    to->about = static_cast<keyauth_credential_t>(from.about);
    to->verdict = static_cast<keyauth_verdict_t>(from.verdict);
    to->client_id_len = from.client_id_length;
    std::memcpy(to->client_id, from.client_id_bytes, from.client_id_length);
    to->client_id[from.client_id_length] = '\0';
    to->not_after = from.not_after;
    std::memcpy(to->credential, from.credential.bytes.data(), sizeof to->credential);
    to->cache = static_cast<keyauth_cache_use_t>(from.cache);
}

void set_registry_error(keyauth_result_t* result) {
    result->about = KEYAUTH_TOKEN;
    result->verdict = KEYAUTH_REGISTRY_ERROR;
    result->client_id_len = 0;
    result->client_id[0] = '\0';
    result->cache = KEYAUTH_CACHE_NOT_CONSULTED;
}

// A check's status as the C boundary returns it: 0, or -1 with a one-line
// reason in err. Nothing thrown crosses.
template <class Check>
int status_to_c(char* err, size_t err_len, Check&& check) {
    try {
        const keyauth::Status status = check();
        if (status.ok())
            return 0;
        if (err != nullptr && err_len > 0)
            std::snprintf(err, err_len, "%s", status.error().message.c_str());
        return -1;
    } catch (...) {
        if (err != nullptr && err_len > 0)
            std::snprintf(err, err_len, "out of memory");
        return -1;
    }
}

}  // namespace

extern "C" {

int keyauth_registry_open(const char* dir, keyauth_registry_t** out, char* err, size_t err_len) {
    try {
        auto opened = keyauth::RegistryReader::open_for_server(dir ? dir : "");
        if (!opened) {
            if (err != nullptr && err_len > 0) {
                std::snprintf(err, err_len, "%s", opened.error().message.c_str());
            }
            return -1;
        }
        *out = new keyauth_registry_s{std::move(*opened)};
        return 0;
    } catch (...) {
        if (err != nullptr && err_len > 0)
            std::snprintf(err, err_len, "out of memory");
        return -1;
    }
}

void keyauth_registry_close(keyauth_registry_t* registry) {
    delete registry;
}

int keyauth_registry_check(const char* dir, char* err, size_t err_len) {
    return status_to_c(err, err_len,
                       [&] { return keyauth::check_registry_for_servers(dir ? dir : ""); });
}

int keyauth_registry_check_workers_user(const char* dir, const char* user, unsigned uid,
                                        unsigned gid, char* err, size_t err_len) {
    return status_to_c(err, err_len, [&] {
        const keyauth::ServerUser who{user ? user : "", static_cast<uid_t>(uid),
                                      static_cast<gid_t>(gid)};
        return keyauth::check_fit_for_workers(keyauth::RegistryLayout{dir ? dir : ""}, who);
    });
}

void keyauth_authenticate(keyauth_registry_t* registry, const keyauth_request_t* request,
                          keyauth_result_t* result) {
    if (registry == nullptr || request == nullptr)
        return set_registry_error(result);
    keyauth::Requirements requirements;
    requirements.token = check_of(request->token);
    requirements.certificate = check_of(request->client_certificate);
    // The verdict copied once, from where the core holds it.
    keyauth::authenticate_http(*registry->registry, request->authorization,
                               request->authorization_len, request->certificate,
                               request->certificate_verified != 0, requirements,
                               keyauth::unix_now(), [result](const keyauth::AuthResult& verdict) {
                                   copy_result(verdict, result);
                               });
}

const char* keyauth_verdict_reason(keyauth_verdict_t verdict) {
    // A C caller may pass any int: only known values reach the C++ enum.
    const int value = static_cast<int>(verdict);
    if (value < KEYAUTH_ACCEPTED || value >= KEYAUTH_VERDICTS)
        return "refused";
    // verdict_reason returns views of string literals: NUL-terminated.
    return keyauth::verdict_reason(static_cast<keyauth::Verdict>(verdict)).data();
}

keyauth_verdict_t keyauth_verdict_as_counted(keyauth_verdict_t verdict) {
    const int value = static_cast<int>(verdict);
    if (value < KEYAUTH_ACCEPTED || value >= KEYAUTH_VERDICTS)
        return verdict;
    return static_cast<keyauth_verdict_t>(
        keyauth::verdict_as_counted(static_cast<keyauth::Verdict>(verdict)));
}

const char* keyauth_verdict_name(keyauth_verdict_t verdict) {
    const int value = static_cast<int>(verdict);
    if (value < KEYAUTH_ACCEPTED || value >= KEYAUTH_VERDICTS)
        return "unknown";
    // Views of string literals: NUL-terminated.
    return keyauth::verdict_name(static_cast<keyauth::Verdict>(verdict)).data();
}

}  // extern "C"

// ---------------------------------------------------------------------------
// Requests that stay open: generation and recheck (see keyauth.h).

static_assert(sizeof(keyauth_result_t::credential) ==
              std::tuple_size_v<decltype(keyauth::CredentialDigest::bytes)>);

extern "C" {

uint64_t keyauth_registry_generation(keyauth_registry_t* registry) {
    if (registry == nullptr)
        return ~std::uint64_t{0};
    try {
        return registry->registry->generation();
    } catch (...) {
        return ~std::uint64_t{0};
    }
}

uint64_t keyauth_registry_commit_sequence(keyauth_registry_t* registry) {
    if (registry == nullptr)
        return 0;
    try {
        return registry->registry->commit_sequence();
    } catch (...) {
        return 0;
    }
}

void keyauth_recheck(keyauth_registry_t* registry, keyauth_result_t* admitted) {
    if (registry == nullptr) {
        admitted->verdict = KEYAUTH_REGISTRY_ERROR;
        return;
    }
    keyauth::CredentialDigest credential;
    credential.kind = admitted->about == KEYAUTH_CERTIFICATE ? keyauth::CredentialKind::certificate
                                                             : keyauth::CredentialKind::token;
    std::memcpy(credential.bytes.data(), admitted->credential, credential.bytes.size());
    const keyauth::AuthResult now =
        keyauth::recheck(*registry->registry, {admitted->client_id, admitted->client_id_len},
                         credential, keyauth::unix_now());
    admitted->verdict = static_cast<keyauth_verdict_t>(now.verdict);
    if (now.accepted())
        admitted->not_after = now.not_after;
}

}  // extern "C"

// ---------------------------------------------------------------------------
// The revocation sweep's rule (see keyauth.h): RevocationSweep in the
// caller's storage.

static_assert(sizeof(keyauth_sweep_t) >= sizeof(keyauth::RevocationSweep));
static_assert(alignof(keyauth_sweep_t) >= alignof(keyauth::RevocationSweep));
static_assert(std::is_trivially_destructible_v<keyauth::RevocationSweep>);
static_assert(KEYAUTH_DEFAULT_REGISTRY_ERROR_GRACE == keyauth::kDefaultRegistryErrorGrace);
static_assert(KEYAUTH_SESSION_KEEP == static_cast<int>(keyauth::SessionFate::keep));
static_assert(KEYAUTH_SESSION_KEEP_THROUGH_ERROR ==
              static_cast<int>(keyauth::SessionFate::keep_through_error));
static_assert(KEYAUTH_SESSION_CUT == static_cast<int>(keyauth::SessionFate::cut));
static_assert(KEYAUTH_SWEEP_NEWS_NONE == static_cast<int>(keyauth::SweepNews::none));
static_assert(KEYAUTH_SWEEP_REGISTRY_UNREADABLE ==
              static_cast<int>(keyauth::SweepNews::registry_unreadable));
static_assert(KEYAUTH_SWEEP_REGISTRY_READABLE ==
              static_cast<int>(keyauth::SweepNews::registry_readable));

namespace {

keyauth::RevocationSweep& sweep_of(keyauth_sweep_t* sweep) {
    return *std::launder(reinterpret_cast<keyauth::RevocationSweep*>(sweep->opaque));
}

const keyauth::RevocationSweep& sweep_of(const keyauth_sweep_t* sweep) {
    return *std::launder(reinterpret_cast<const keyauth::RevocationSweep*>(sweep->opaque));
}

}  // namespace

extern "C" {

void keyauth_sweep_init(keyauth_sweep_t* sweep, int64_t error_grace) {
    new (sweep->opaque) keyauth::RevocationSweep(error_grace);
}

void keyauth_sweep_admitted(keyauth_sweep_t* sweep, int64_t not_after) {
    sweep_of(sweep).admitted(not_after);
}

int keyauth_sweep_due(const keyauth_sweep_t* sweep, uint64_t generation, int64_t now) {
    return sweep_of(sweep).due(generation, now) ? 1 : 0;
}

void keyauth_sweep_begin(keyauth_sweep_t* sweep, uint64_t generation) {
    sweep_of(sweep).begin(generation);
}

keyauth_session_fate_t keyauth_sweep_judge(keyauth_sweep_t* sweep, keyauth_result_t* rechecked,
                                           int64_t now) {
    // Read as an int: a C caller may store any value, and an unknown one
    // is no answer from the registry.
    int value = 0;
    std::memcpy(&value, &rechecked->verdict, sizeof value);
    const auto verdict = value >= KEYAUTH_ACCEPTED && value < KEYAUTH_VERDICTS
                             ? static_cast<keyauth::Verdict>(value)
                             : keyauth::Verdict::malformed;
    const keyauth::SweepRuling ruling = sweep_of(sweep).judge(verdict, rechecked->not_after, now);
    rechecked->verdict = static_cast<keyauth_verdict_t>(ruling.why);
    return static_cast<keyauth_session_fate_t>(ruling.fate);
}

keyauth_sweep_news_t keyauth_sweep_end(keyauth_sweep_t* sweep) {
    return static_cast<keyauth_sweep_news_t>(sweep_of(sweep).end());
}

size_t keyauth_sweep_kept_through_error(const keyauth_sweep_t* sweep) {
    return sweep_of(sweep).kept_through_error();
}

}  // extern "C"

// ---------------------------------------------------------------------------
// The refusal log's rule (see keyauth.h): RefusalLog behind a C handle.

struct keyauth_refusal_log_s {
    keyauth_refusal_log_s() : log() {}  // RefusalLog's constructor is explicit: no aggregate {}
    keyauth::RefusalLog log;
};

static_assert(sizeof(keyauth_refusal_note_t::summary) == sizeof(keyauth::RefusalNote::summary));
static_assert(sizeof(keyauth_refusal_summary_t::client_id) ==
              sizeof(keyauth::RefusalSummary::client_id));

extern "C" {

keyauth_refusal_log_t* keyauth_refusal_log_create(void) {
    try {
        return new keyauth_refusal_log_s();
    } catch (...) {
        return nullptr;
    }
}

void keyauth_refusal_log_free(keyauth_refusal_log_t* log) {
    delete log;
}

void keyauth_refusal_log_note(keyauth_refusal_log_t* log, const char* client_id,
                              size_t client_id_len, keyauth_verdict_t verdict, int64_t now,
                              keyauth_refusal_note_t* note) {
    *note = keyauth_refusal_note_t{};
    if (log == nullptr) {
        note->log = 1;
        return;
    }
    // Read as an int: a C caller may store any value; an unknown one is
    // kept with the malformed.
    int value = 0;
    std::memcpy(&value, &verdict, sizeof value);
    const auto known = value >= KEYAUTH_ACCEPTED && value < KEYAUTH_VERDICTS
                           ? static_cast<keyauth::Verdict>(value)
                           : keyauth::Verdict::malformed;
    const std::string_view id =
        client_id != nullptr ? std::string_view(client_id, client_id_len) : std::string_view();
    const keyauth::RefusalNote noted = log->log.note(id, known, now);
    note->log = noted.log ? 1 : 0;
    note->unlogged = noted.unlogged;
    note->seconds = noted.seconds;
    std::memcpy(note->summary, noted.summary, sizeof note->summary);
}

int keyauth_refusal_log_pending(const keyauth_refusal_log_t* log) {
    return log != nullptr && log->log.pending() ? 1 : 0;
}

size_t keyauth_refusal_log_take_overdue(keyauth_refusal_log_t* log, int64_t now,
                                        keyauth_refusal_summary_t* out, size_t capacity) {
    if (log == nullptr)
        return 0;
    keyauth::RefusalSummary taken[16];
    std::size_t filled = 0;
    while (filled < capacity) {
        const std::size_t want = capacity - filled < 16 ? capacity - filled : 16;
        const std::size_t n = log->log.take_overdue(now, taken, want);
        for (std::size_t i = 0; i < n; ++i, ++filled) {
            std::memcpy(out[filled].client_id, taken[i].client_id, sizeof out[filled].client_id);
            out[filled].verdict = static_cast<keyauth_verdict_t>(taken[i].verdict);
            out[filled].unlogged = taken[i].unlogged;
            out[filled].seconds = taken[i].seconds;
        }
        if (n < want)
            break;
    }
    return filled;
}

}  // extern "C"
