// Registry records: decode arbitrary bytes; what decodes re-encodes exactly
// (a format-1 record as its format-2 upgrade: the same fields, no state, no
// previous credentials).
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
    const std::uint8_t format = keyauth::credentials_format(as_view(data, size));
    FUZZ_CHECK(format == 1 || format == keyauth::kRecordFormat);
    FUZZ_CHECK(size == (format == 1 ? keyauth::kFormat1CredentialsSize
                                    : keyauth::kEncodedCredentialsSize));
    FUZZ_CHECK(decoded.serial.length >= 1 && decoded.serial.length <= keyauth::kMaxSerialBytes);
    FUZZ_CHECK(decoded.validity.not_before <= decoded.validity.not_after);
    FUZZ_CHECK(decoded.previous.valid_until >= 0);
    const auto encoded = keyauth::encode_credentials(decoded);
    FUZZ_CHECK(encoded[0] == keyauth::kRecordFormat);
    FUZZ_CHECK(std::memcmp(encoded.data() + 1, data + 1, size - 1) == 0);
    if (format == 1) {
        FUZZ_CHECK(!decoded.suspended && !decoded.previous.present());
        for (std::size_t i = size; i < encoded.size(); ++i)
            FUZZ_CHECK(encoded[i] == 0);
    }
    // Hex spellings stay in bounds.
    FUZZ_CHECK(decoded.serial.hex().size() == 2u * decoded.serial.length);
    FUZZ_CHECK(decoded.certificate_fingerprint.hex().size() == 64);
    return 0;
}
