// The credential policy: authenticate() judges what a host saw, the one entry
// point both servers call; the single checks below are its building blocks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
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
    not_verified,       // the TLS layer did not verify the certificate's chain
    different_clients,  // token and certificate name two clients
    client_id_refused,  // the MQTT client id is not one this client may use
    password_missing,   // MQTT: the username is a client id, the token (password) is absent
    suspended,          // keytool suspend: refused until resumed, credentials kept
};
inline constexpr std::size_t kVerdicts = static_cast<std::size_t>(Verdict::suspended) + 1;

// The separator between a registered id and a suffix of the client's choosing
// in an MQTT client id ("sensor7:kitchen"): ids cannot contain it.
inline constexpr char kClientIdSuffixSeparator = ':';

// Mosquitto's auto_id_prefix when mosquitto.conf sets none.
inline constexpr std::string_view kDefaultAssignedIdPrefix = "auto-";
// The broker's form of an id it assigns to a client that sent none: the
// prefix, or none (Mosquitto 2.0.11 forgets the auto_id_prefix it defaulted
// to "auto-" at a SIGHUP's reload), then 8-4-4-4-12 upper-case hex digits
// of 16 random bytes. A prefix holding kClientIdSuffixSeparator is never the
// broker's: ids after it are a registered client's.
bool has_assigned_id_form(std::string_view id, std::string_view prefix) noexcept;

enum class CredentialKind : std::uint8_t { token, certificate };

// Whether a token's verdict came from this process's verification cache
// (verification_cache.hpp), for the hosts' hit and miss counters.
enum class CacheUse : std::uint8_t {
    not_consulted,  // no token the cache could hold (a certificate, none, an unreadable
                    // registry), or no cache
    hit,            // the verdict this process reached before, under the same registry state
    miss,           // a token the cache did not hold: verified in full
};

// What admitted a client, without its secret: the BLAKE2b hash of its token
// or the SHA-256 fingerprint of its certificate. A re-issue changes it.
struct CredentialDigest {
    CredentialKind kind = CredentialKind::token;
    std::array<std::uint8_t, 32> bytes{};
};

struct AuthResult {
    Verdict verdict = Verdict::malformed;
    // Which credential the verdict is about: the refused one, or when
    // accepted the one recheck() follows (the certificate if both passed).
    CredentialKind about = CredentialKind::token;
    std::uint8_t client_id_length = 0;
    char client_id_bytes[kMaxClientIdLength + 1] = {};
    // Set when accepted: the moment this client stops being valid, and what
    // to recheck() a live session with.
    std::int64_t not_after = 0;
    CredentialDigest credential;
    // The token's verdict, from the verification cache or not.
    CacheUse cache = CacheUse::not_consulted;
    // MQTT, once the credentials passed: the client id has the broker's
    // assigned form (has_assigned_id_form() with its prefix), whatever
    // admitted it; a host keeping sessions counts those.
    bool mqtt_client_id_assigned_form = false;

    bool accepted() const { return verdict == Verdict::accepted; }
    // Known whenever the credential named a well-formed id, accepted or not.
    std::string_view client_id() const { return {client_id_bytes, client_id_length}; }
};

// Secret-free words for logs ("unknown client", "expired", ...).
std::string_view verdict_reason(Verdict verdict) noexcept;
// The verdict's stable name for metrics ("unknown_client", "expired", ...):
// as the enumerator is spelt, never renamed, only added to.
std::string_view verdict_name(Verdict verdict) noexcept;
// The verdict as counters that clients may read count it: a wrong secret for
// a registered id is counted as an unknown client, or the counters would tell
// anyone who can read them which ids are registered. Logs keep the verdict.
Verdict verdict_as_counted(Verdict verdict) noexcept;

AuthResult check_token(ClientStore& store, std::string_view token, std::int64_t now) noexcept;
AuthResult check_bearer(ClientStore& store, std::string_view header_value,
                        std::int64_t now) noexcept;
AuthResult check_certificate(ClientStore& store, const X509* certificate,
                             std::int64_t now) noexcept;

// How a host treats one kind of credential.
enum class Check : std::uint8_t {
    off,             // not looked at, even when presented
    when_presented,  // judged if presented, not needed
    required,        // must be presented and pass
};

// What a host saw on one connection or request, unchecked: authenticate()
// validates every field. nullopt means "not there at all", which a host can
// tell apart from an empty value.
struct Presented {
    // HTTP: the Authorization header's value.
    std::optional<std::string_view> authorization;
    // MQTT CONNECT: username and password, and the client id the broker
    // knows the connection by (mqtt_client_id_assigned: the broker may have
    // chosen it because the client sent none, as far as the host can tell:
    // a clean session, and no session it admitted goes by that id; the
    // id's form and the registry decide, in authenticate()).
    std::optional<std::string_view> mqtt_username;
    std::optional<std::string_view> mqtt_password;
    std::optional<std::string_view> mqtt_client_id;
    bool mqtt_client_id_assigned = false;
    // The peer certificate, and whether the TLS layer verified its chain.
    const X509* certificate = nullptr;
    bool certificate_verified = false;
};

struct Requirements {
    Check token = Check::off;
    Check certificate = Check::off;
    // MQTT: a certificate session's client id must be its registered id
    // (plugin_opt_clientid_match).
    bool certificate_client_id_is_registered_id = true;
    // MQTT: the broker's auto_id_prefix, which an id it assigned starts with.
    std::string_view assigned_id_prefix = kDefaultAssignedIdPrefix;
};

// The verdict on one connection or request:
// - each credential is judged as its Check says: a required one must be
//   presented; one judged must be registered, match and be live now;
// - a token and a certificate that are both judged must name the same client;
// - MQTT: a token session's client id is the registered id, the registered id,
//   kClientIdSuffixSeparator and any suffix, or one the broker assigned: one
//   the host says it may have assigned, of has_assigned_id_form() with the
//   broker's prefix, and no registered client's id (suspended or expired
//   ones included: a client may choose an id of that form, and its stored
//   session is its own); a certificate session's is the registered id
//   (unless the host waives it: then any id, another client's too).
// A token is the Authorization header's Bearer credential, or in MQTT the
// username (the password then ignored) or, when the username is no token,
// the password with the registered id as username.
AuthResult authenticate(ClientStore& store, const Presented& presented,
                        const Requirements& requirements, std::int64_t now) noexcept;

// For live sessions: is the registry's record of client_id still the one
// that admitted it (same digest), and live now?
AuthResult recheck(ClientStore& store, std::string_view client_id,
                   const CredentialDigest& credential, std::int64_t now) noexcept;

// For live MQTT sessions: recheck(), then authenticate()'s client id rule
// where the registry can change its answer. A token session under an id
// the broker assigned (no registered id, nor one with a suffix) keeps it
// only while no client has that id: one registered since, in whatever
// state, makes it client_id_refused (the id and its stored session are that
// client's); an unreadable registry, registry_error.
AuthResult recheck_mqtt_session(ClientStore& store, std::string_view mqtt_client_id,
                                std::string_view client_id, const CredentialDigest& credential,
                                std::int64_t now) noexcept;

}  // namespace keyauth
