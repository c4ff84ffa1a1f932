#include "keyauth/authenticator.hpp"

#include <cstring>

#include "keyauth/bearer.hpp"
#include "keyauth/token.hpp"
#include "keyauth/x509.hpp"

namespace keyauth {
namespace {

AuthResult refusal(Verdict verdict) {
    AuthResult result;
    result.verdict = verdict;
    return result;
}

void set_client_id(AuthResult& result, std::string_view id) {
    const std::size_t length = id.size() < kMaxClientIdLength ? id.size() : kMaxClientIdLength;
    std::memcpy(result.client_id_bytes, id.data(), length);
    result.client_id_bytes[length] = '\0';
    result.client_id_length = static_cast<std::uint8_t>(length);
}

Verdict lookup_failure(const Status& status) {
    return status.code() == Errc::unknown_client ? Verdict::unknown_client
                                                 : Verdict::registry_error;
}

Verdict judge_validity(const ValidityWindow& validity, std::int64_t now) {
    if (now < validity.not_before)
        return Verdict::not_yet_valid;
    if (now > validity.not_after)
        return Verdict::expired;
    return Verdict::accepted;
}

// Same credential as the registry's, in constant time for token hashes.
bool matches(const ClientCredentials& record, const CredentialDigest& credential) {
    if (credential.kind == CredentialKind::token) {
        TokenHash presented;
        presented.bytes = credential.bytes;
        return token_hashes_equal(presented, record.token_hash);
    }
    return credential.bytes == record.certificate_fingerprint.bytes;
}

// The registry's verdict on a client id presenting a credential.
AuthResult judge(ClientStore& store, std::string_view id, const CredentialDigest& credential,
                 std::int64_t now) {
    AuthResult result;
    set_client_id(result, id);
    ClientCredentials record;
    if (Status s = store.find(id, record); !s) {
        result.verdict = lookup_failure(s);
        return result;
    }
    if (!matches(record, credential)) {
        result.verdict = Verdict::mismatch;
        return result;
    }
    result.verdict = judge_validity(record.validity, now);
    result.not_after = record.validity.not_after;
    result.credential = credential;
    return result;
}

AuthResult check_token_unguarded(ClientStore& store, std::string_view token, std::int64_t now) {
    if (token.empty())
        return refusal(Verdict::missing);
    ParsedToken parsed;
    if (!parse_token(token, parsed))
        return refusal(Verdict::malformed);
    CredentialDigest credential{CredentialKind::token, hash_token_secret(parsed.secret).bytes};
    return judge(store, parsed.client_id, credential, now);
}

AuthResult check_certificate_unguarded(ClientStore& store, const X509* certificate,
                                       std::int64_t now) {
    if (certificate == nullptr)
        return refusal(Verdict::missing);
    Fingerprint fingerprint;
    if (!fingerprint_of(certificate, fingerprint))
        return refusal(Verdict::malformed);  // never looked up
    AuthResult result;
    std::string id;
    ClientCredentials record;
    if (Status s = store.find_by_fingerprint(fingerprint, id, record); !s) {
        result.verdict = lookup_failure(s);
        return result;
    }
    set_client_id(result, id);
    result.verdict = judge_validity(record.validity, now);
    result.not_after = record.validity.not_after;
    result.credential = {CredentialKind::certificate, fingerprint.bytes};
    return result;
}

AuthResult registry_failure() {
    return refusal(Verdict::registry_error);
}

}  // namespace

std::string_view verdict_reason(Verdict verdict) noexcept {
    switch (verdict) {
        case Verdict::accepted:
            return "accepted";
        case Verdict::missing:
            return "no credential";
        case Verdict::malformed:
            return "malformed credential";
        case Verdict::unknown_client:
            return "unknown client";
        case Verdict::mismatch:
            return "credential does not match";
        case Verdict::not_yet_valid:
            return "not yet valid";
        case Verdict::expired:
            return "expired";
        case Verdict::registry_error:
            return "registry unavailable";
    }
    return "refused";
}

// Failing closed: anything thrown below (allocation) is a refusal.
AuthResult check_token(ClientStore& store, std::string_view token, std::int64_t now) noexcept {
    try {
        return check_token_unguarded(store, token, now);
    } catch (...) {
        return registry_failure();
    }
}

AuthResult check_bearer(ClientStore& store, std::string_view header_value,
                        std::int64_t now) noexcept {
    if (header_value.empty()) {
        return refusal(Verdict::missing);
    }
    const auto token = bearer_token(header_value);
    if (!token) {
        return refusal(Verdict::malformed);
    }
    return check_token(store, *token, now);
}

AuthResult check_certificate(ClientStore& store, const X509* certificate,
                             std::int64_t now) noexcept {
    try {
        return check_certificate_unguarded(store, certificate, now);
    } catch (...) {
        return registry_failure();
    }
}

AuthResult recheck(ClientStore& store, std::string_view client_id,
                   const CredentialDigest& credential, std::int64_t now) noexcept {
    try {
        if (!is_valid_client_id(client_id)) {
            return refusal(Verdict::malformed);
        }
        return judge(store, client_id, credential, now);
    } catch (...) {
        return registry_failure();
    }
}

}  // namespace keyauth
