#include "keyauth/hex.hpp"

#include <array>
#include <cstring>

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

constexpr std::uint64_t kOnes = 0x0101010101010101u;
constexpr std::uint64_t kHighBits = 0x8080808080808080u;

// Eight hex digits (a little-endian load) to four bytes, without a branch on
// their values: 0x80 in each byte of `valid` that is a lowercase hex digit.
// Each test adds a constant that sets a byte's high bit exactly when the byte
// reaches a bound; bytes below 0x80 cannot carry into their neighbours.
std::uint32_t decode_eight(std::uint64_t text, std::uint64_t& valid) {
    const std::uint64_t ascii = ~text & kHighBits;
    const std::uint64_t digit = (text + kOnes * (0x80 - '0')) & ~(text + kOnes * (0x80 - '9' - 1));
    const std::uint64_t letter = (text + kOnes * (0x80 - 'a')) & ~(text + kOnes * (0x80 - 'f' - 1));
    valid = (digit | letter) & ascii;
    const std::uint64_t nibbles = (text & (kOnes * 0x0f)) + ((letter & kHighBits) >> 7) * 9;
    // [h0 l0 h1 l1 ...] -> four bytes (h << 4 | l), in order.
    std::uint64_t pairs =
        ((nibbles & 0x00ff00ff00ff00ffu) << 4) | ((nibbles >> 8) & 0x00ff00ff00ff00ffu);
    pairs = (pairs | (pairs >> 8)) & 0x0000ffff0000ffffu;
    return static_cast<std::uint32_t>(pairs | (pairs >> 16));
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
    if (text.size() != 2 * length)
        return false;
    // No early exit: decoding time does not depend on where a bad digit is.
    std::size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    // Eight digits a step: a token's 64 digits in a fifth of the work.
    std::uint64_t all_valid = kHighBits;
    for (; i + 4 <= length; i += 4) {
        std::uint64_t word = 0;
        std::memcpy(&word, text.data() + 2 * i, sizeof word);
        std::uint64_t valid = 0;
        const std::uint32_t bytes = decode_eight(word, valid);
        all_valid &= valid;
        std::memcpy(out + i, &bytes, sizeof bytes);
    }
    unsigned bad = all_valid == kHighBits ? 0u : 1u;
#else
    unsigned bad = 0;
#endif
    for (; i < length; ++i) {
        const std::uint8_t high = kLowerHexValue[static_cast<std::uint8_t>(text[2 * i])];
        const std::uint8_t low = kLowerHexValue[static_cast<std::uint8_t>(text[2 * i + 1])];
        bad |= (high | low) & 0x10u;
        out[i] = static_cast<std::uint8_t>(((high & 0x0f) << 4) | (low & 0x0f));
    }
    return bad == 0;
}

}  // namespace keyauth
