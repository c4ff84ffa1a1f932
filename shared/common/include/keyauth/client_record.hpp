// What the registry knows about a client, and its on-disk encoding.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "keyauth/result.hpp"
#include "keyauth/token.hpp"

namespace keyauth {

inline constexpr std::size_t kFingerprintBytes = 32;
inline constexpr std::size_t kMaxSerialBytes = 20;  // RFC 5280

struct Fingerprint {
    std::array<std::uint8_t, kFingerprintBytes> bytes{};

    std::string hex() const;
    bool operator==(const Fingerprint& other) const { return bytes == other.bytes; }
};

struct CertificateSerial {
    std::array<std::uint8_t, kMaxSerialBytes> bytes{};
    std::uint8_t length = 0;

    std::string hex() const;
};

// Seconds since the epoch, UTC. Both ends are inclusive, as in X.509.
struct ValidityWindow {
    std::int64_t not_before = 0;
    std::int64_t not_after = 0;
};

// What a rotation replaced, still valid until its grace ends (keytool rotate
// --grace): at most one, the one rotated out last.
struct PreviousCredentials {
    TokenHash token_hash;
    Fingerprint certificate_fingerprint;
    std::int64_t valid_until = 0;  // inclusive; 0: there is none

    bool present() const { return valid_until != 0; }
};

// Everything but the id: fixed size, so lookups never allocate.
struct ClientCredentials {
    TokenHash token_hash;
    Fingerprint certificate_fingerprint;
    CertificateSerial serial;
    ValidityWindow validity;
    std::int64_t issued_at = 0;
    bool suspended = false;  // keytool suspend: refused, kept, resumable
    PreviousCredentials previous;
};

struct ClientRecord {
    std::string id;
    ClientCredentials credentials;
};

// The record formats: 1 (keyauth 0.1 to 0.3) has no state and no previous
// credentials; 2 adds both. Writers write the current format only.
inline constexpr std::uint8_t kRecordFormat = 2;
inline constexpr std::size_t kFormat1CredentialsSize =
    1 + kTokenHashBytes + kFingerprintBytes + 1 + kMaxSerialBytes + 3 * 8;
inline constexpr std::size_t kEncodedCredentialsSize =
    kFormat1CredentialsSize + 1 + kTokenHashBytes + kFingerprintBytes + 8;

std::array<std::uint8_t, kEncodedCredentialsSize> encode_credentials(const ClientCredentials& c);

// The fields every record format holds, as they are encoded (the lookup
// index's records too): token hash, fingerprint, serial length, serial
// (zero-padded to 20), not before, not after, issued at (little-endian).
inline constexpr std::size_t kCredentialFieldsSize = kFormat1CredentialsSize - 1;
void encode_credential_fields(const ClientCredentials& c, std::uint8_t* out) noexcept;
// false (c unchanged or partly set) on a serial length or validity no
// writer writes.
bool decode_credential_fields(const std::uint8_t* in, ClientCredentials& c) noexcept;
// A rotation's previous credentials: token hash, fingerprint, valid until.
inline constexpr std::size_t kPreviousCredentialsSize = kTokenHashBytes + kFingerprintBytes + 8;
void encode_previous_credentials(const PreviousCredentials& previous, std::uint8_t* out) noexcept;
void decode_previous_credentials(const std::uint8_t* in, PreviousCredentials& previous) noexcept;

// Reads either format; refuses any other (a newer keyauth's, or damage) and
// anything inconsistent: readers never guess at a record.
bool decode_credentials(std::string_view bytes, ClientCredentials& out) noexcept;
// The format a stored record has; 0 if it has none this keyauth knows.
std::uint8_t credentials_format(std::string_view bytes) noexcept;

}  // namespace keyauth
