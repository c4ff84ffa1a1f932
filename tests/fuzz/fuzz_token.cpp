// parse_token and check_token on arbitrary bytes, against a small registry.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "keyauth/authenticator.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/token.hpp"

using namespace keyauth_fuzz;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    registry();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = as_view(data, size);
    keyauth::ParsedToken parsed;
    const bool parses = keyauth::parse_token(text, parsed);
    if (parses) {
        // Strict: what parses is exactly "<valid id>:b:<64 lowercase hex>".
        FUZZ_CHECK(keyauth::is_valid_client_id(parsed.client_id));
        FUZZ_CHECK(parsed.client_id.data() == text.data());
        static constexpr char kDigits[] = "0123456789abcdef";
        std::string again(parsed.client_id);
        again += ":b:";
        for (std::size_t i = 0; i < parsed.secret.size(); ++i) {
            again += kDigits[parsed.secret.data()[i] >> 4];
            again += kDigits[parsed.secret.data()[i] & 0x0f];
        }
        FUZZ_CHECK(again == text);
    }
    const keyauth::AuthResult result = keyauth::check_token(registry(), text, kNow);
    FUZZ_CHECK(result.client_id_length <= keyauth::kMaxClientIdLength);
    if (text.empty()) {
        FUZZ_CHECK(result.verdict == keyauth::Verdict::missing);
    } else if (!parses) {
        FUZZ_CHECK(result.verdict == keyauth::Verdict::malformed);
        FUZZ_CHECK(result.client_id_length == 0);
    } else {
        FUZZ_CHECK(result.verdict != keyauth::Verdict::malformed);
        FUZZ_CHECK(result.client_id() == parsed.client_id);
    }
    // Only the known secret under a live id gets in.
    if (result.accepted()) {
        const std::string_view secret = text.substr(text.size() - kSecret.size());
        FUZZ_CHECK(secret == kSecret);
        FUZZ_CHECK(result.client_id() == "myapp01" || result.client_id() == std::string(64, 'L'));
    }
    return 0;
}
