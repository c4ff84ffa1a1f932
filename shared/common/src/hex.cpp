#include "keyauth/hex.hpp"

#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

#if defined(__SSE2__)
// Sixteen hex digits to eight bytes, SSE2 (every x86-64): 0xff in each byte
// of `valid` that is a lowercase hex digit. The same tests as decode_eight,
// sixteen lanes at once: a token's 64 digits in four steps.
__m128i decode_sixteen(const char* text, __m128i& valid) {
    const __m128i chars = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text));
    const __m128i digit = _mm_sub_epi8(chars, _mm_set1_epi8('0'));
    const __m128i letter = _mm_sub_epi8(chars, _mm_set1_epi8('a'));
    // Unsigned x <= n as min(x, n) == x: a byte below '0' or 'a' wraps high.
    const __m128i is_digit = _mm_cmpeq_epi8(_mm_min_epu8(digit, _mm_set1_epi8(9)), digit);
    const __m128i is_letter = _mm_cmpeq_epi8(_mm_min_epu8(letter, _mm_set1_epi8(5)), letter);
    valid = _mm_or_si128(is_digit, is_letter);
    const __m128i nibbles =
        _mm_or_si128(_mm_and_si128(is_digit, digit),
                     _mm_and_si128(is_letter, _mm_add_epi8(letter, _mm_set1_epi8(10))));
    // 16-bit lanes [h l] (little-endian: h in the low byte) -> h << 4 | l.
    const __m128i high = _mm_slli_epi16(_mm_and_si128(nibbles, _mm_set1_epi16(0x00ff)), 4);
    const __m128i low = _mm_srli_epi16(nibbles, 8);
    return _mm_or_si128(high, low);  // eight 16-bit lanes, each a byte
}
#endif

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
    unsigned bad = 0;
#if defined(__SSE2__)
    // Thirty-two digits a step (a token's 64 in two).
    __m128i all_lanes_valid = _mm_set1_epi8(-1);
    for (; i + 16 <= length; i += 16) {
        __m128i valid_first, valid_second;
        const __m128i first = decode_sixteen(text.data() + 2 * i, valid_first);
        const __m128i second = decode_sixteen(text.data() + 2 * i + 16, valid_second);
        all_lanes_valid = _mm_and_si128(all_lanes_valid, _mm_and_si128(valid_first, valid_second));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(first, second));
    }
    bad |= _mm_movemask_epi8(all_lanes_valid) == 0xffff ? 0u : 1u;
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    // What is left, eight digits a step.
    std::uint64_t all_valid = kHighBits;
    for (; i + 4 <= length; i += 4) {
        std::uint64_t word = 0;
        std::memcpy(&word, text.data() + 2 * i, sizeof word);
        std::uint64_t valid = 0;
        const std::uint32_t bytes = decode_eight(word, valid);
        all_valid &= valid;
        std::memcpy(out + i, &bytes, sizeof bytes);
    }
    bad |= all_valid == kHighBits ? 0u : 1u;
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
