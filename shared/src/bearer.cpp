#include "keyauth/bearer.hpp"

namespace keyauth {
namespace {

constexpr std::string_view kScheme = "bearer";

bool equals_ignoring_case(std::string_view text, std::string_view lower) {
    if (text.size() != lower.size())
        return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
        if (c != lower[i])
            return false;
    }
    return true;
}

bool is_space(char c) {
    return c == ' ' || c == '\t';
}

}  // namespace

std::optional<std::string_view> bearer_token(std::string_view value) noexcept {
    if (value.size() <= kScheme.size())
        return std::nullopt;
    if (!equals_ignoring_case(value.substr(0, kScheme.size()), kScheme))
        return std::nullopt;
    std::string_view rest = value.substr(kScheme.size());
    if (!is_space(rest.front()))
        return std::nullopt;
    while (!rest.empty() && is_space(rest.front()))
        rest.remove_prefix(1);
    while (!rest.empty() && is_space(rest.back()))
        rest.remove_suffix(1);
    if (rest.empty())
        return std::nullopt;
    for (char c : rest) {
        // One credential: no inner whitespace, no control bytes, printable ASCII only.
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
            return std::nullopt;
        }
    }
    return rest;
}

}  // namespace keyauth
