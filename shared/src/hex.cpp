#include "hex.hpp"

namespace keyauth {
namespace {

int lower_hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

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
    if (text.size() != 2 * length) return false;
    int bad = 0;
    for (std::size_t i = 0; i < length; ++i) {
        const int high = lower_hex_value(text[2 * i]);
        const int low = lower_hex_value(text[2 * i + 1]);
        bad |= (high < 0 || low < 0) ? 1 : 0;
        out[i] = static_cast<std::uint8_t>(((high & 0x0f) << 4) | (low & 0x0f));
    }
    return bad == 0;
}

}  // namespace keyauth
