#include "keyauth/bearer.hpp"

#include <cstdint>
#include <cstring>

namespace keyauth {
namespace {

constexpr std::string_view kScheme = "bearer";

// Every byte of the scheme is a lowercase letter, so c | 0x20 equals it
// exactly when c is that letter in either case; no branch per byte.
bool equals_ignoring_case(std::string_view text, std::string_view lower) {
    if (text.size() != lower.size())
        return false;
    unsigned difference = 0;
    for (std::size_t i = 0; i < text.size(); ++i)
        difference |=
            static_cast<unsigned char>(text[i] | 0x20) ^ static_cast<unsigned char>(lower[i]);
    return difference == 0;
}

bool is_space(char c) {
    return c == ' ' || c == '\t';
}

bool is_visible(char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
}

// One credential: no inner whitespace, no control bytes, printable ASCII
// only. Eight bytes a step (a token is ~110 of them, on every request): a
// byte below 0x21 or above 0x7e sets its high bit in one of the two sums.
bool all_visible(std::string_view text) {
    constexpr std::uint64_t kOnes = 0x0101010101010101u;
    constexpr std::uint64_t kHighBits = 0x8080808080808080u;
    std::uint64_t invisible = 0;
    std::size_t i = 0;
    for (; i + 8 <= text.size(); i += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, text.data() + i, sizeof word);
        const std::uint64_t below = (word - kOnes * 0x21) & ~word;  // c < 0x21
        const std::uint64_t above = (word + kOnes * 0x01) | word;   // c >= 0x7f
        invisible |= (below | above) & kHighBits;
    }
    for (; i < text.size(); ++i)
        invisible |= is_visible(text[i]) ? 0 : 1;
    return invisible == 0;
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
    if (rest.empty() || !all_visible(rest))
        return std::nullopt;
    return rest;
}

}  // namespace keyauth
