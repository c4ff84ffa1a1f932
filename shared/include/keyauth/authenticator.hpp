// The two checks every adapter makes: a token, or a presented certificate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <openssl/x509.h>

#include "keyauth/client_id.hpp"
#include "keyauth/registry.hpp"

namespace keyauth {

enum class Verdict {
    accepted = 0,
    missing,
    malformed,
    unknown_client,
    mismatch,
    not_yet_valid,
    expired,
    registry_error,
};

struct AuthResult {
    Verdict verdict = Verdict::malformed;
    std::uint8_t client_id_length = 0;
    char client_id_bytes[kMaxClientIdLength + 1] = {};
    // Set when accepted: the moment this client stops being valid.
    std::int64_t not_after = 0;

    bool accepted() const { return verdict == Verdict::accepted; }
    // Known whenever the credential named a well-formed id, accepted or not.
    std::string_view client_id() const { return {client_id_bytes, client_id_length}; }
};

// Secret-free words for logs ("unknown client", "expired", ...).
std::string_view verdict_reason(Verdict verdict) noexcept;

AuthResult check_token(ClientStore& store, std::string_view token, std::int64_t now) noexcept;
AuthResult check_bearer(ClientStore& store, std::string_view header_value,
                        std::int64_t now) noexcept;
AuthResult check_certificate(ClientStore& store, const X509* certificate,
                             std::int64_t now) noexcept;

}  // namespace keyauth
