#include "keyauth/decimal.hpp"

#include <charconv>

namespace keyauth {

std::optional<std::uint64_t> parse_decimal(std::string_view text) noexcept {
    // from_chars takes neither '+' nor a space, but takes '-' and zeros in front.
    if (text.empty() || text[0] < '0' || text[0] > '9' || (text[0] == '0' && text.size() > 1))
        return std::nullopt;
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

}  // namespace keyauth
