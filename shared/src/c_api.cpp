// The C facade: C++ behind a C boundary no exception crosses.
#include "keyauth/keyauth.h"

#include <cstdio>
#include <cstdint>
#include <cstring>
#include <memory>

#include "keyauth/authenticator.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/registry.hpp"

struct keyauth_registry_s {
    std::unique_ptr<keyauth::LmdbRegistry> registry;
};

namespace {

void copy_result(const keyauth::AuthResult& from, keyauth_result_t* to) {
    to->verdict = static_cast<keyauth_verdict_t>(from.verdict);
    to->client_id_len = from.client_id_length;
    std::memcpy(to->client_id, from.client_id_bytes, from.client_id_length);
    to->client_id[from.client_id_length] = '\0';
    to->not_after = from.not_after;
    to->credential_kind = static_cast<std::uint8_t>(from.credential.kind);
    std::memcpy(to->credential, from.credential.bytes.data(), sizeof to->credential);
}

void set_registry_error(keyauth_result_t* result) {
    result->verdict = KEYAUTH_REGISTRY_ERROR;
    result->client_id_len = 0;
    result->client_id[0] = '\0';
}

}  // namespace

extern "C" {

int keyauth_registry_open(const char* dir, keyauth_registry_t** out, char* err, size_t err_len) {
    try {
        auto opened = keyauth::LmdbRegistry::open(dir ? dir : "", keyauth::OpenMode::read_only);
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
    try {
        const keyauth::Status checked = keyauth::check_registry_directory(dir ? dir : "");
        if (checked.ok())
            return 0;
        if (err != nullptr && err_len > 0) {
            std::snprintf(err, err_len, "%s", checked.error().message.c_str());
        }
        return -1;
    } catch (...) {
        if (err != nullptr && err_len > 0)
            std::snprintf(err, err_len, "out of memory");
        return -1;
    }
}

void keyauth_check_token(keyauth_registry_t* registry, const char* token, size_t token_len,
                         keyauth_result_t* result) {
    if (registry == nullptr)
        return set_registry_error(result);
    copy_result(keyauth::check_token(*registry->registry, {token ? token : "", token_len},
                                     keyauth::unix_now()),
                result);
}

void keyauth_check_bearer(keyauth_registry_t* registry, const char* header, size_t header_len,
                          keyauth_result_t* result) {
    if (registry == nullptr)
        return set_registry_error(result);
    copy_result(keyauth::check_bearer(*registry->registry, {header ? header : "", header_len},
                                      keyauth::unix_now()),
                result);
}

void keyauth_check_certificate(keyauth_registry_t* registry, struct x509_st* certificate,
                               keyauth_result_t* result) {
    if (registry == nullptr)
        return set_registry_error(result);
    copy_result(keyauth::check_certificate(*registry->registry, certificate, keyauth::unix_now()),
                result);
}

const char* keyauth_verdict_reason(keyauth_verdict_t verdict) {
    // A C caller may pass any int: only known values reach the C++ enum.
    const int value = static_cast<int>(verdict);
    if (value < KEYAUTH_ACCEPTED || value > KEYAUTH_REGISTRY_ERROR)
        return "refused";
    // verdict_reason returns views of string literals: NUL-terminated.
    return keyauth::verdict_reason(static_cast<keyauth::Verdict>(verdict)).data();
}

}  // extern "C"

// ---------------------------------------------------------------------------
// Requests that stay open: generation and recheck (see keyauth.h).

static_assert(KEYAUTH_CREDENTIAL_TOKEN == static_cast<int>(keyauth::CredentialKind::token));
static_assert(KEYAUTH_CREDENTIAL_CERTIFICATE ==
              static_cast<int>(keyauth::CredentialKind::certificate));
static_assert(sizeof(keyauth_result_t::credential) ==
              std::tuple_size_v<decltype(keyauth::CredentialDigest::bytes)>);
static_assert(KEYAUTH_CLIENT_ID_MAX == keyauth::kMaxClientIdLength);

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

void keyauth_recheck(keyauth_registry_t* registry, keyauth_result_t* admitted) {
    if (registry == nullptr) {
        admitted->verdict = KEYAUTH_REGISTRY_ERROR;
        return;
    }
    keyauth::CredentialDigest credential;
    credential.kind = admitted->credential_kind == KEYAUTH_CREDENTIAL_CERTIFICATE
                          ? keyauth::CredentialKind::certificate
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
