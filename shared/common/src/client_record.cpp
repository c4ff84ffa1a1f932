#include "keyauth/client_record.hpp"

#include <cstring>

#include "keyauth/hex.hpp"

namespace keyauth {
namespace {

constexpr std::uint8_t kSuspendedFlag = 0x01;
constexpr std::uint8_t kKnownFlags = kSuspendedFlag;

void put_i64(std::uint8_t* out, std::int64_t value) {
    auto bits = static_cast<std::uint64_t>(value);
    for (int i = 0; i < 8; ++i)
        out[i] = static_cast<std::uint8_t>(bits >> (8 * i));
}

// Little-endian, as put_i64 writes it: one load where the CPU is (GCC did
// not fuse the byte loop; every cold token check decodes three of these).
std::int64_t get_i64(const std::uint8_t* in) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, in, sizeof bits);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    bits = __builtin_bswap64(bits);
#endif
    return static_cast<std::int64_t>(bits);
}

template <std::size_t N>
bool all_zero(const std::array<std::uint8_t, N>& bytes) {
    return bytes == std::array<std::uint8_t, N>{};
}

}  // namespace

std::string Fingerprint::hex() const {
    return to_hex(bytes.data(), bytes.size());
}

std::string CertificateSerial::hex() const {
    return to_hex(bytes.data(), length);
}

void encode_credential_fields(const ClientCredentials& c, std::uint8_t* p) noexcept {
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
}

bool decode_credential_fields(const std::uint8_t* p, ClientCredentials& c) noexcept {
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
    return c.validity.not_before <= c.validity.not_after;
}

void encode_previous_credentials(const PreviousCredentials& previous, std::uint8_t* p) noexcept {
    std::memcpy(p, previous.token_hash.bytes.data(), kTokenHashBytes);
    std::memcpy(p + kTokenHashBytes, previous.certificate_fingerprint.bytes.data(),
                kFingerprintBytes);
    put_i64(p + kTokenHashBytes + kFingerprintBytes, previous.valid_until);
}

void decode_previous_credentials(const std::uint8_t* p, PreviousCredentials& previous) noexcept {
    std::memcpy(previous.token_hash.bytes.data(), p, kTokenHashBytes);
    std::memcpy(previous.certificate_fingerprint.bytes.data(), p + kTokenHashBytes,
                kFingerprintBytes);
    previous.valid_until = get_i64(p + kTokenHashBytes + kFingerprintBytes);
}

// Layout: format, the credential fields; format 2 then: flags, the previous
// credentials (all zero when there are none).
std::array<std::uint8_t, kEncodedCredentialsSize> encode_credentials(const ClientCredentials& c) {
    std::array<std::uint8_t, kEncodedCredentialsSize> out{};
    std::uint8_t* p = out.data();
    *p++ = kRecordFormat;
    encode_credential_fields(c, p);
    p += kCredentialFieldsSize;
    *p++ = c.suspended ? kSuspendedFlag : 0;
    if (c.previous.present())
        encode_previous_credentials(c.previous, p);
    return out;
}

std::uint8_t credentials_format(std::string_view bytes) noexcept {
    if (bytes.size() == kFormat1CredentialsSize && bytes[0] == 1)
        return 1;
    if (bytes.size() == kEncodedCredentialsSize && bytes[0] == kRecordFormat)
        return kRecordFormat;
    return 0;
}

bool decode_credentials(std::string_view bytes, ClientCredentials& out) noexcept {
    const std::uint8_t format = credentials_format(bytes);
    if (format == 0)
        return false;
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data()) + 1;
    ClientCredentials c;
    if (!decode_credential_fields(p, c))
        return false;
    p += kCredentialFieldsSize;
    if (format >= 2) {
        const std::uint8_t flags = *p++;
        if ((flags & ~kKnownFlags) != 0)
            return false;  // a state this keyauth does not know: never guessed at
        c.suspended = (flags & kSuspendedFlag) != 0;
        decode_previous_credentials(p, c.previous);
        if (c.previous.valid_until < 0)
            return false;
        if (!c.previous.present() && !(all_zero(c.previous.token_hash.bytes) &&
                                       all_zero(c.previous.certificate_fingerprint.bytes)))
            return false;
    }
    out = c;
    return true;
}

}  // namespace keyauth
