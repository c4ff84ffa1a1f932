#include "keyauth/authenticator.hpp"

#include <cstring>
#include <iterator>
#include <limits>

#include "keyauth/bearer.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/token.hpp"
#include "keyauth/x509_identity.hpp"
#include "authenticate_http.hpp"
#include "fingerprint_memo.hpp"
#include "verification_cache.hpp"

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

bool same_credential(const TokenHash& token_hash, const Fingerprint& fingerprint,
                     const CredentialDigest& credential) {
    if (credential.kind == CredentialKind::token) {
        TokenHash presented;
        presented.bytes = credential.bytes;
        return token_hashes_equal(presented, token_hash);
    }
    return credential.bytes == fingerprint.bytes;
}

// The window in which the record admits this credential: its own validity
// for the current one, until the grace ends for the one a rotation replaced
// (compared in constant time for token hashes); nullopt for any other.
std::optional<ValidityWindow> window_of(const ClientCredentials& record,
                                        const CredentialDigest& credential) {
    if (same_credential(record.token_hash, record.certificate_fingerprint, credential))
        return record.validity;
    const PreviousCredentials& previous = record.previous;
    if (previous.present() &&
        same_credential(previous.token_hash, previous.certificate_fingerprint, credential)) {
        return ValidityWindow{std::numeric_limits<std::int64_t>::min(), previous.valid_until};
    }
    return std::nullopt;
}

// The verdict on a record that holds the presented credential: a suspended
// client is refused whatever its validity (said only to a holder of one of
// its credentials).
void judge_record(AuthResult& result, const ClientCredentials& record,
                  const CredentialDigest& credential, std::int64_t now) {
    const auto window = window_of(record, credential);
    if (!window) {
        result.verdict = Verdict::mismatch;
        return;
    }
    result.verdict = record.suspended ? Verdict::suspended : judge_validity(*window, now);
    result.not_after = window->not_after;
    result.credential = credential;
}

// The registry's verdict on a client id presenting a credential, which
// complete_credential() finishes while the store loads the client's record.
AuthResult judge_while(ClientStore& store, std::string_view id, const CredentialDigest& credential,
                       Meanwhile complete_credential, std::int64_t now) {
    AuthResult result;
    set_client_id(result, id);
    ClientCredentials record;
    if (Status s = store.find_while(id, record, complete_credential); !s) {
        result.verdict = lookup_failure(s);
        return result;
    }
    judge_record(result, record, credential, now);
    return result;
}

AuthResult judge(ClientStore& store, std::string_view id, const CredentialDigest& credential,
                 std::int64_t now) {
    auto complete = [] {};
    return judge_while(store, id, credential, Meanwhile(complete), now);
}

AuthResult verify_token(ClientStore& store, std::string_view token, std::int64_t now,
                        std::size_t& /* token_at: 0, the token is all of it */) {
    if (token.empty())
        return refusal(Verdict::missing);
    ParsedToken parsed;
    if (!parse_token(token, parsed))
        return refusal(Verdict::malformed);
    // The id is known before the secret is hashed: the record's lines load
    // during the hash (a cold client's slot and record: two misses).
    CredentialDigest credential{CredentialKind::token, {}};
    auto hash_secret = [&] { credential.bytes = hash_token_secret(parsed.secret).bytes; };
    return judge_while(store, parsed.client_id, credential, Meanwhile(hash_secret), now);
}

}  // namespace

// The full path for an Authorization header's value: its one Bearer token
// (authenticate_http.hpp).
AuthResult verify_bearer(ClientStore& store, std::string_view header_value, std::int64_t now,
                         std::size_t& token_at) {
    const auto token = bearer_token(header_value);
    if (!token) {
        token_at = kNoToken;  // no token looked at: the cache was not asked
        return refusal(Verdict::malformed);
    }
    token_at = static_cast<std::size_t>(token->data() - header_value.data());
    std::size_t none = 0;
    return verify_token(store, *token, now, none);
}

namespace {

// A token this process verified under the state published now is not
// verified again (verification_cache.hpp); any other takes the full path.
AuthResult check_token_unguarded(ClientStore& store, std::string_view token, std::int64_t now) {
    return remembered_verdict(store, token, VerificationCache::Presented::token, now, verify_token);
}

// A certificate a rotation replaced is in no fingerprint table: its CN names
// the client whose record may still hold it in grace (the fingerprint, not
// the CN, decides).
AuthResult check_replaced_certificate(ClientStore& store, const X509* certificate,
                                      const CredentialDigest& credential, std::int64_t now) {
    auto identity = identity_of(certificate);
    if (!identity || !is_valid_client_id(identity->common_name))
        return refusal(Verdict::unknown_client);
    AuthResult result = judge(store, identity->common_name, credential, now);
    // Not this client's (or no such client): nobody's, and named as nobody.
    if (result.verdict == Verdict::mismatch || result.verdict == Verdict::unknown_client)
        return refusal(Verdict::unknown_client);
    return result;
}

AuthResult check_certificate_unguarded(ClientStore& store, const X509* certificate,
                                       std::int64_t now) {
    if (certificate == nullptr)
        return refusal(Verdict::missing);
    // A kept-alive connection's certificate is hashed once (the memo holds
    // hashes, not verdicts: the record is looked up and judged below every time).
    Fingerprint fingerprint;
    FingerprintMemo* memo = store.fingerprint_memo();
    if (!(memo ? memo->fingerprint_of(certificate, fingerprint)
               : fingerprint_of(certificate, fingerprint)))
        return refusal(Verdict::malformed);  // never looked up
    const CredentialDigest credential{CredentialKind::certificate, fingerprint.bytes};
    AuthResult result;
    std::string id;
    ClientCredentials record;
    if (Status s = store.find_by_fingerprint(fingerprint, id, record); !s) {
        if (s.code() == Errc::unknown_client)
            return check_replaced_certificate(store, certificate, credential, now);
        result.verdict = lookup_failure(s);
        return result;
    }
    set_client_id(result, id);
    judge_record(result, record, credential, now);
    return result;
}

AuthResult registry_failure() {
    return refusal(Verdict::registry_error);
}

AuthResult about(AuthResult result, CredentialKind kind) {
    result.about = kind;
    return result;
}

// The token an MQTT CONNECT carries: the username when it has a token's
// form, else the password, whose username must then be the registered id.
// A username alone is parsed at most once: a client id (never a token's
// form: ids are shorter than any token) lacks its password; anything else is
// judged as a token, from the cache without a parse when it holds it.
static_assert(kMaxClientIdLength < 1 + kTokenSeparator.size() + 2 * kTokenSecretBytes,
              "a valid client id never has a token's form");
AuthResult check_mqtt_token(ClientStore& store, const Presented& presented, std::int64_t now) {
    const std::string_view username = presented.mqtt_username.value_or("");
    const std::string_view password = presented.mqtt_password.value_or("");
    if (password.empty()) {
        if (is_valid_client_id(username))
            return refusal(Verdict::password_missing);
        return check_token_unguarded(store, username, now);
    }
    ParsedToken parsed;
    if (parse_token(username, parsed))
        return check_token_unguarded(store, username, now);
    AuthResult result = check_token_unguarded(store, password, now);
    if (result.accepted() && username != result.client_id())
        result.verdict = Verdict::different_clients;
    return result;
}

// In MQTT a username alone is a token only in a token's form: elsewhere it
// is the client's business (a certificate listener ignores it).
bool token_presented(const Presented& presented) {
    if (!presented.mqtt_client_id)
        return presented.authorization.has_value();
    ParsedToken parsed;
    return !presented.mqtt_password.value_or("").empty() ||
           parse_token(presented.mqtt_username.value_or(""), parsed);
}

AuthResult check_presented_token(ClientStore& store, const Presented& presented, std::int64_t now) {
    if (presented.mqtt_client_id)
        return check_mqtt_token(store, presented, now);
    if (!presented.authorization)
        return refusal(Verdict::missing);
    // A header that is there but empty is a bad credential, not a missing one.
    if (presented.authorization->empty())
        return refusal(Verdict::malformed);
    return check_bearer(store, *presented.authorization, now);
}

AuthResult check_presented_certificate(ClientStore& store, const Presented& presented,
                                       std::int64_t now) {
    if (presented.certificate == nullptr)
        return refusal(Verdict::missing);
    if (!presented.certificate_verified)
        return refusal(Verdict::not_verified);
    return check_certificate_unguarded(store, presented.certificate, now);
}

// Is the token judged? Whether one is presented (for MQTT a parse) is asked
// only when that decides it.
bool token_judged(Check check, const Presented& presented) {
    return check == Check::required ||
           (check == Check::when_presented && token_presented(presented));
}

// Who has the id in the registry, in whatever state.
enum class IdHolder : std::uint8_t { nobody, a_client, unknowable };

IdHolder holder_of(ClientStore& store, std::string_view id) {
    if (!is_valid_client_id(id))
        return IdHolder::nobody;
    ClientCredentials record;
    const Status s = store.find(id, record);
    if (s.ok())
        return IdHolder::a_client;
    return s.code() == Errc::unknown_client ? IdHolder::nobody : IdHolder::unknowable;
}

// An MQTT client id of the registered id's own: the id, or the id,
// kClientIdSuffixSeparator and any suffix.
bool is_own_mqtt_client_id(std::string_view mqtt_id, std::string_view registered) {
    if (mqtt_id == registered)
        return true;
    return mqtt_id.size() > registered.size() &&
           mqtt_id.substr(0, registered.size()) == registered &&
           mqtt_id[registered.size()] == kClientIdSuffixSeparator;
}

// The MQTT client id rule of authenticate(), once the credentials passed.
bool client_id_admitted(ClientStore& store, const Presented& presented,
                        const Requirements& requirements, const AuthResult& admitted) {
    const std::string_view mqtt_id = *presented.mqtt_client_id;
    const std::string_view registered = admitted.client_id();
    if (admitted.about == CredentialKind::certificate)
        return !requirements.certificate_client_id_is_registered_id || mqtt_id == registered;
    if (is_own_mqtt_client_id(mqtt_id, registered))
        return true;
    // Asked last: the only rule that costs a lookup (an unreadable registry refuses).
    return presented.mqtt_client_id_assigned && admitted.mqtt_client_id_assigned_form &&
           holder_of(store, mqtt_id) == IdHolder::nobody;
}

// Judges the MQTT client id of credentials that passed, noting its form.
void judge_client_id(ClientStore& store, const Presented& presented,
                     const Requirements& requirements, AuthResult& admitted) {
    admitted.mqtt_client_id_assigned_form =
        has_assigned_id_form(*presented.mqtt_client_id, requirements.assigned_id_prefix);
    if (!client_id_admitted(store, presented, requirements, admitted))
        admitted.verdict = Verdict::client_id_refused;
}

AuthResult authenticate_unguarded(ClientStore& store, const Presented& presented,
                                  const Requirements& requirements, std::int64_t now) {
    // The usual request, a token alone: judged in place, no copy of a verdict.
    if (!judged(requirements.certificate, presented.certificate != nullptr)) {
        if (!token_judged(requirements.token, presented))
            return refusal(Verdict::missing);  // nothing is required: a host's misuse
        AuthResult token = check_presented_token(store, presented, now);
        token.about = CredentialKind::token;
        if (token.accepted() && presented.mqtt_client_id)
            judge_client_id(store, presented, requirements, token);
        return token;
    }
    std::optional<AuthResult> certificate, token;
    certificate =
        about(check_presented_certificate(store, presented, now), CredentialKind::certificate);
    if (!certificate->accepted())
        return *certificate;
    if (token_judged(requirements.token, presented)) {
        token = about(check_presented_token(store, presented, now), CredentialKind::token);
        if (!token->accepted())
            return *token;
    }
    if (token && certificate->client_id() != token->client_id()) {
        AuthResult result = *token;
        result.verdict = Verdict::different_clients;
        return result;
    }
    AuthResult admitted = *certificate;
    if (token)
        admitted.cache = token->cache;  // the certificate's verdict, the token's cache use
    if (presented.mqtt_client_id)
        judge_client_id(store, presented, requirements, admitted);
    return admitted;
}

}  // namespace

bool has_assigned_id_form(std::string_view id, std::string_view prefix) noexcept {
    constexpr std::size_t kUuidLength = 36;
    if (id.size() == kUuidLength)
        prefix = {};
    if (id.size() != prefix.size() + kUuidLength || id.substr(0, prefix.size()) != prefix ||
        prefix.find(kClientIdSuffixSeparator) != std::string_view::npos)
        return false;
    const std::string_view uuid = id.substr(prefix.size());
    for (std::size_t i = 0; i < kUuidLength; ++i) {
        const char c = uuid[i];
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

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
        case Verdict::not_verified:
            return "certificate not verified";
        case Verdict::different_clients:
            return "credentials name different clients";
        case Verdict::client_id_refused:
            return "MQTT client id is not the client's (set it to the registered id; with a "
                   "token, the id, ':' and any suffix may do)";
        case Verdict::password_missing:
            return "password missing (the username is a client id: the password must be its "
                   "token)";
        case Verdict::suspended:
            return "suspended";
    }
    return "refused";
}

std::string_view verdict_name(Verdict verdict) noexcept {
    static constexpr std::string_view kNames[] = {
        "accepted",     "missing",           "malformed",         "unknown_client",
        "mismatch",     "not_yet_valid",     "expired",           "registry_error",
        "not_verified", "different_clients", "client_id_refused", "password_missing",
        "suspended",
    };
    static_assert(std::size(kNames) == kVerdicts, "a new Verdict needs its name here");
    const auto index = static_cast<std::size_t>(verdict);
    return index < kVerdicts ? kNames[index] : "unknown";
}

Verdict verdict_as_counted(Verdict verdict) noexcept {
    return verdict == Verdict::mismatch ? Verdict::unknown_client : verdict;
}

// Failing closed: anything thrown below (allocation) is a refusal.
AuthResult check_token(ClientStore& store, std::string_view token, std::int64_t now) noexcept {
    try {
        return check_token_unguarded(store, token, now);
    } catch (...) {
        return registry_failure();
    }
}

// Cached by the whole header value: a request seen before costs no parse.
AuthResult check_bearer(ClientStore& store, std::string_view header_value,
                        std::int64_t now) noexcept {
    if (header_value.empty()) {
        return refusal(Verdict::missing);
    }
    try {
        return remembered_verdict(store, header_value, VerificationCache::Presented::bearer_header,
                                  now, verify_bearer);
    } catch (...) {
        return registry_failure();
    }
}

AuthResult check_certificate(ClientStore& store, const X509* certificate,
                             std::int64_t now) noexcept {
    try {
        return check_certificate_unguarded(store, certificate, now);
    } catch (...) {
        return registry_failure();
    }
}

AuthResult authenticate(ClientStore& store, const Presented& presented,
                        const Requirements& requirements, std::int64_t now) noexcept {
    try {
        return authenticate_unguarded(store, presented, requirements, now);
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

AuthResult recheck_mqtt_session(ClientStore& store, std::string_view mqtt_client_id,
                                std::string_view client_id, const CredentialDigest& credential,
                                std::int64_t now) noexcept {
    AuthResult result = recheck(store, client_id, credential, now);
    if (!result.accepted() || credential.kind != CredentialKind::token ||
        is_own_mqtt_client_id(mqtt_client_id, client_id))
        return result;
    // Admitted under an id the broker assigned, while no client had it.
    try {
        switch (holder_of(store, mqtt_client_id)) {
            case IdHolder::nobody:
                break;
            case IdHolder::a_client:
                result.verdict = Verdict::client_id_refused;
                break;
            case IdHolder::unknowable:
                result.verdict = Verdict::registry_error;
                break;
        }
        return result;
    } catch (...) {
        return registry_failure();
    }
}

}  // namespace keyauth
