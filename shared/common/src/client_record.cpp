#include "keyauth/client_record.hpp"

#include <cstring>

#include "keyauth/hex.hpp"

namespace keyauth {
namespace {

constexpr std::uint8_t kFormatVersion = 1;

void put_i64(std::uint8_t* out, std::int64_t value) {
    auto bits = static_cast<std::uint64_t>(value);
    for (int i = 0; i < 8; ++i)
        out[i] = static_cast<std::uint8_t>(bits >> (8 * i));
}

std::int64_t get_i64(const std::uint8_t* in) {
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i)
        bits |= static_cast<std::uint64_t>(in[i]) << (8 * i);
    return static_cast<std::int64_t>(bits);
}

}  // namespace

std::string Fingerprint::hex() const {
    return to_hex(bytes.data(), bytes.size());
}

std::string CertificateSerial::hex() const {
    return to_hex(bytes.data(), length);
}

// Layout (little-endian): version, token hash, fingerprint, serial length,
// serial (zero-padded to 20), not before, not after, issued at.
std::array<std::uint8_t, kEncodedCredentialsSize> encode_credentials(const ClientCredentials& c) {
    std::array<std::uint8_t, kEncodedCredentialsSize> out{};
    std::uint8_t* p = out.data();
    *p++ = kFormatVersion;
    std::memcpy(p, c.token_hash.bytes.data(), kTokenHashBytes);
    p += kTokenHashBytes;
    std::memcpy(p, c.certificate_fingerprint.bytes.data(), kFingerprintBytes);
    p += kFingerprintBytes;
    *p++ = c.serial.length;
    std::memcpy(p, c.serial.bytes.data(), kMaxSerialBytes);
    p += kMaxSerialBytes;
    put_i64(p, c.validity.not_before);
    put_i64(p + 8, c.validity.not_after);
    put_i64(p + 16, c.issued_at);
    return out;
}

bool decode_credentials(std::string_view bytes, ClientCredentials& out) noexcept {
    if (bytes.size() != kEncodedCredentialsSize)
        return false;
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
    if (*p++ != kFormatVersion)
        return false;
    ClientCredentials c;
    std::memcpy(c.token_hash.bytes.data(), p, kTokenHashBytes);
    p += kTokenHashBytes;
    std::memcpy(c.certificate_fingerprint.bytes.data(), p, kFingerprintBytes);
    p += kFingerprintBytes;
    c.serial.length = *p++;
    if (c.serial.length == 0 || c.serial.length > kMaxSerialBytes)
        return false;
    std::memcpy(c.serial.bytes.data(), p, kMaxSerialBytes);
    p += kMaxSerialBytes;
    c.validity.not_before = get_i64(p);
    c.validity.not_after = get_i64(p + 8);
    c.issued_at = get_i64(p + 16);
    if (c.validity.not_before > c.validity.not_after)
        return false;
    out = c;
    return true;
}

}  // namespace keyauth
