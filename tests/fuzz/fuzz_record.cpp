// Registry records: decode arbitrary bytes; what decodes re-encodes exactly.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_support.hpp"
#include "keyauth/client_record.hpp"

using namespace keyauth_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    keyauth::ClientCredentials decoded;
    if (!keyauth::decode_credentials(as_view(data, size), decoded))
        return 0;
    FUZZ_CHECK(size == keyauth::kEncodedCredentialsSize);
    FUZZ_CHECK(decoded.serial.length >= 1 && decoded.serial.length <= keyauth::kMaxSerialBytes);
    FUZZ_CHECK(decoded.validity.not_before <= decoded.validity.not_after);
    const auto encoded = keyauth::encode_credentials(decoded);
    FUZZ_CHECK(std::memcmp(encoded.data(), data, size) == 0);
    // Hex spellings stay in bounds.
    FUZZ_CHECK(decoded.serial.hex().size() == 2u * decoded.serial.length);
    FUZZ_CHECK(decoded.certificate_fingerprint.hex().size() == 64);
    return 0;
}
