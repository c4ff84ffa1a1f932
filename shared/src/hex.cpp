#include "hex.hpp"

#include <array>

namespace keyauth {
namespace {

// 0..15 for '0'-'9' and 'a'-'f', 0x10 for every other byte.
constexpr std::array<std::uint8_t, 256> kLowerHexValue = [] {
    std::array<std::uint8_t, 256> table{};
    for (auto& value : table)
        value = 0x10;
    for (int c = '0'; c <= '9'; ++c)
        table[c] = static_cast<std::uint8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c)
        table[c] = static_cast<std::uint8_t>(c - 'a' + 10);
    return table;
}();

}  // namespace

std::string to_hex(const std::uint8_t* bytes, std::size_t length) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text(2 * length, '\0');
    for (std::size_t i = 0; i < length; ++i) {
        text[2 * i] = kDigits[bytes[i] >> 4];
        text[2 * i + 1] = kDigits[bytes[i] & 0x0f];
    }
    return text;
}

bool from_lower_hex(std::string_view text, std::uint8_t* out, std::size_t length) noexcept {
    if (text.size() != 2 * length)
        return false;
    // No early exit: decoding time does not depend on where a bad digit is.
    unsigned bad = 0;
    for (std::size_t i = 0; i < length; ++i) {
        const std::uint8_t high = kLowerHexValue[static_cast<std::uint8_t>(text[2 * i])];
        const std::uint8_t low = kLowerHexValue[static_cast<std::uint8_t>(text[2 * i + 1])];
        bad |= (high | low) & 0x10u;
        out[i] = static_cast<std::uint8_t>(((high & 0x0f) << 4) | (low & 0x0f));
    }
    return bad == 0;
}

}  // namespace keyauth
