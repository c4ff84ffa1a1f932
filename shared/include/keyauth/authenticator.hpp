// The two checks every adapter makes: a token, or a presented certificate.
#pragma once

#include <array>
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

enum class CredentialKind : std::uint8_t { token, certificate };

// What admitted a client, without its secret: the BLAKE2b hash of its token
// or the SHA-256 fingerprint of its certificate. A re-issue changes it.
struct CredentialDigest {
    CredentialKind kind = CredentialKind::token;
    std::array<std::uint8_t, 32> bytes{};
};

struct AuthResult {
    Verdict verdict = Verdict::malformed;
    std::uint8_t client_id_length = 0;
    char client_id_bytes[kMaxClientIdLength + 1] = {};
    // Set when accepted: the moment this client stops being valid, and what
    // to recheck() a live session with.
    std::int64_t not_after = 0;
    CredentialDigest credential;

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

// For live sessions: is the registry's record of client_id still the one
// that admitted it (same digest), and live now?
AuthResult recheck(ClientStore& store, std::string_view client_id,
                   const CredentialDigest& credential, std::int64_t now) noexcept;

}  // namespace keyauth
