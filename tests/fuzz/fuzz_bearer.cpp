// bearer_token then check_bearer on arbitrary Authorization header values.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "keyauth/authenticator.hpp"
#include "keyauth/bearer.hpp"

using namespace keyauth_fuzz;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    registry();
    return 0;
}

namespace {

bool starts_with_bearer(std::string_view text) {
    static constexpr std::string_view kScheme = "bearer";
    if (text.size() < kScheme.size())
        return false;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        const char c = text[i];
        const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        if (lower != kScheme[i])
            return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view header = as_view(data, size);
    const auto token = keyauth::bearer_token(header);
    if (token) {
        FUZZ_CHECK(!token->empty());
        FUZZ_CHECK(starts_with_bearer(header));
        // A view into the header, after the scheme and at least one blank.
        FUZZ_CHECK(token->data() >= header.data() + 7);
        FUZZ_CHECK(token->data() + token->size() <= header.data() + header.size());
        for (char c : *token) {
            const auto byte = static_cast<unsigned char>(c);
            FUZZ_CHECK(byte > 0x20 && byte < 0x7f);
        }
        // Only blanks around it.
        for (const char* p = header.data() + 6; p < token->data(); ++p) {
            FUZZ_CHECK(*p == ' ' || *p == '\t');
        }
        for (const char* p = token->data() + token->size(); p < header.data() + header.size();
             ++p) {
            FUZZ_CHECK(*p == ' ' || *p == '\t');
        }
    }
    const keyauth::AuthResult result = keyauth::check_bearer(registry(), header, kNow);
    if (header.empty()) {
        FUZZ_CHECK(result.verdict == keyauth::Verdict::missing);
    } else if (!token) {
        FUZZ_CHECK(result.verdict == keyauth::Verdict::malformed);
    } else {
        const keyauth::AuthResult direct = keyauth::check_token(registry(), *token, kNow);
        FUZZ_CHECK(direct.verdict == result.verdict);
        FUZZ_CHECK(direct.client_id() == result.client_id());
    }
    if (result.accepted()) {
        FUZZ_CHECK(token && token->substr(token->size() - kSecret.size()) == kSecret);
    }
    return 0;
}
