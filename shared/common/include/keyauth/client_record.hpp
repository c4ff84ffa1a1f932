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

// Everything but the id: fixed size, so lookups never allocate.
struct ClientCredentials {
    TokenHash token_hash;
    Fingerprint certificate_fingerprint;
    CertificateSerial serial;
    ValidityWindow validity;
    std::int64_t issued_at = 0;
};

struct ClientRecord {
    std::string id;
    ClientCredentials credentials;
};

inline constexpr std::size_t kEncodedCredentialsSize =
    1 + kTokenHashBytes + kFingerprintBytes + 1 + kMaxSerialBytes + 3 * 8;

std::array<std::uint8_t, kEncodedCredentialsSize> encode_credentials(const ClientCredentials& c);

// Refuses anything but the exact current format.
bool decode_credentials(std::string_view bytes, ClientCredentials& out) noexcept;

}  // namespace keyauth
