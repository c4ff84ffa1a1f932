// Client-id validation against an independent statement of the rule.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "keyauth/client_id.hpp"

using namespace keyauth_fuzz;

namespace {

// The rule as README states it: 1 to 64 characters from A-Z a-z 0-9 . _ @ -, starting with a
// letter or digit, never "..".
bool reference_rule(std::string_view id) {
    if (id.empty() || id.size() > 64)
        return false;
    const std::string_view alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (alnum.find(id.front()) == std::string_view::npos)
        return false;
    for (char c : id) {
        if (alnum.find(c) == std::string_view::npos && c != '.' && c != '_' && c != '@' &&
            c != '-') {
            return false;
        }
    }
    return id.find("..") == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view id = as_view(data, size);
    const bool valid = keyauth::is_valid_client_id(id);
    FUZZ_CHECK(valid == reference_rule(id));
    const keyauth::Status status = keyauth::check_client_id(id);
    FUZZ_CHECK(status.ok() == valid);
    if (!valid) {
        FUZZ_CHECK(status.code() == keyauth::Errc::invalid_argument);
        const std::string& message = status.error().message;
        FUZZ_CHECK(!message.empty());
        // The message is printable ASCII whatever the id held.
        for (char c : message) {
            const auto byte = static_cast<unsigned char>(c);
            FUZZ_CHECK(byte >= 0x20 && byte < 0x7f);
        }
    }
    return 0;
}
