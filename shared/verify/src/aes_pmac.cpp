#include "aes_pmac.hpp"

#include <cstdlib>
#include <cstring>

#include <sodium.h>

#if defined(__x86_64__) && defined(__GNUC__)  // GCC and Clang
#define KEYAUTH_AES_NI 1
#include <wmmintrin.h>
// Only these functions may use AES-NI: the rest of the build stays baseline.
#define KEYAUTH_AES_NI_CODE __attribute__((target("aes,sse2")))
#endif

namespace keyauth {
namespace {

#ifdef KEYAUTH_AES_NI

// Doubling in GF(2^128) (RFC 4493, 2.3): the block shifted left by one bit,
// 0x87 folded into its last byte when the bit shifted out was set (a mask,
// not a branch on the key).
void double_block(const std::uint8_t in[16], std::uint8_t out[16]) {
    const auto carry = static_cast<std::uint8_t>(-(in[0] >> 7));
    for (std::size_t i = 0; i < 15; ++i)
        out[i] = static_cast<std::uint8_t>((in[i] << 1) | (in[i + 1] >> 7));
    out[15] = static_cast<std::uint8_t>((in[15] << 1) ^ (carry & 0x87));
}

// Halving in GF(2^128), L · x^-1 (PMAC's L(-1)): the block shifted right by one
// bit; when the bit shifted out was set, x^-1 = x^127 + x^6 + x + 1 folded
// in (0x80 into the first byte, 0x43 into the last; a mask, not a branch).
void halve_block(const std::uint8_t in[16], std::uint8_t out[16]) {
    const auto carry = static_cast<std::uint8_t>(-(in[15] & 1));
    for (std::size_t i = 15; i > 0; --i)
        out[i] = static_cast<std::uint8_t>((in[i] >> 1) | (in[i - 1] << 7));
    out[0] = static_cast<std::uint8_t>((in[0] >> 1) ^ (carry & 0x80));
    out[15] ^= static_cast<std::uint8_t>(carry & 0x43);
}

// AES-128's next round key (FIPS 197, 5.2): AESKEYGENASSIST gives
// SubWord(RotWord(w3)) ^ rcon, which each word then folds in with the
// words before it.
template <int kRcon>
KEYAUTH_AES_NI_CODE __m128i next_round_key(__m128i key) {
    const __m128i assist = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(key, kRcon), 0xff);
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, assist);
}

// Every round written out, each round key read where it lies: a table of
// round keys and no loop, so a block costs eleven instructions.
KEYAUTH_AES_NI_CODE inline __attribute__((always_inline)) __m128i encrypt(
    __m128i block, const std::uint8_t (*round_keys)[16]) {
    const auto* k = reinterpret_cast<const __m128i*>(round_keys);
    block = _mm_xor_si128(block, _mm_load_si128(k));
    block = _mm_aesenc_si128(block, _mm_load_si128(k + 1));
    block = _mm_aesenc_si128(block, _mm_load_si128(k + 2));
    block = _mm_aesenc_si128(block, _mm_load_si128(k + 3));
    block = _mm_aesenc_si128(block, _mm_load_si128(k + 4));
    block = _mm_aesenc_si128(block, _mm_load_si128(k + 5));
    block = _mm_aesenc_si128(block, _mm_load_si128(k + 6));
    block = _mm_aesenc_si128(block, _mm_load_si128(k + 7));
    block = _mm_aesenc_si128(block, _mm_load_si128(k + 8));
    block = _mm_aesenc_si128(block, _mm_load_si128(k + 9));
    return _mm_aesenclast_si128(block, _mm_load_si128(k + 10));
}

KEYAUTH_AES_NI_CODE void expand_key(const std::uint8_t key[16], std::uint8_t (*round_keys)[16]) {
    __m128i k = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
    const auto store = [&](std::size_t i) {
        _mm_store_si128(reinterpret_cast<__m128i*>(round_keys[i]), k);
    };
    store(0);
    k = next_round_key<0x01>(k), store(1);
    k = next_round_key<0x02>(k), store(2);
    k = next_round_key<0x04>(k), store(3);
    k = next_round_key<0x08>(k), store(4);
    k = next_round_key<0x10>(k), store(5);
    k = next_round_key<0x20>(k), store(6);
    k = next_round_key<0x40>(k), store(7);
    k = next_round_key<0x80>(k), store(8);
    k = next_round_key<0x1b>(k), store(9);
    k = next_round_key<0x36>(k), store(10);
}

// L = AES_K(0^128), the offsets' seed.
KEYAUTH_AES_NI_CODE void encrypt_zero(const std::uint8_t (*round_keys)[16], std::uint8_t out[16]) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), encrypt(_mm_setzero_si128(), round_keys));
}

// The message's last block (1 to 16 bytes; none for an empty message),
// padded with 10* when short. From 16 bytes on (a
// token has 68 or more): the 16 that end the message, shifted down by an
// amount the length alone sets; no copy, no loop.
KEYAUTH_AES_NI_CODE __m128i last_block(const std::uint8_t* bytes, std::size_t length,
                                       std::size_t rest) {
    unsigned __int128 block = 0;
    if (length >= 16) {
        std::memcpy(&block, bytes + length - 16, 16);  // little-endian: byte i at bit 8i
        block >>= 8 * (16 - rest);
    } else {
        for (std::size_t i = 0; i < length; ++i)
            block |= static_cast<unsigned __int128>(bytes[i]) << (8 * i);
    }
    if (rest < 16)
        block |= static_cast<unsigned __int128>(0x80) << (8 * rest);
    return _mm_set_epi64x(static_cast<long long>(block >> 64), static_cast<long long>(block));
}

KEYAUTH_AES_NI_CODE void tag_with_aes_ni(const std::uint8_t (*round_keys)[16],
                                         const std::uint8_t (*offsets)[16], std::size_t ready,
                                         const std::uint8_t (*l)[16],
                                         const std::uint8_t l_inverse[16],
                                         const std::uint8_t* bytes, std::size_t length,
                                         std::uint8_t out[16]) {
    // Every block but the last: block j (from 1) enciphered with offset
    // Delta_j = Delta_(j-1) ^ L(ntz(j)), the results summed. No block waits
    // for another's encryption: only the sum is chained, one xor each. The
    // last block is the one holding the final byte; an empty message has
    // one, empty. The first `ready` offsets are read from the table; any
    // further, computed from the one before.
    const std::size_t before_last = length == 0 ? 0 : (length - 1) / 16;
    const auto* block = reinterpret_cast<const __m128i*>(bytes);
    const auto* offset = reinterpret_cast<const __m128i*>(offsets);
    __m128i sum = _mm_setzero_si128();
    const std::size_t from_table = before_last < ready ? before_last : ready;
    for (std::size_t j = 0; j < from_table; ++j) {
        const __m128i masked =
            _mm_xor_si128(_mm_loadu_si128(block + j), _mm_load_si128(offset + j));
        sum = _mm_xor_si128(sum, encrypt(masked, round_keys));
    }
    if (from_table < before_last) {
        const auto* levels = reinterpret_cast<const __m128i*>(l);
        __m128i delta = _mm_load_si128(offset + from_table - 1);
        for (std::size_t j = from_table + 1; j <= before_last; ++j) {
            delta = _mm_xor_si128(delta, _mm_load_si128(levels + __builtin_ctzll(j)));
            const __m128i masked = _mm_xor_si128(_mm_loadu_si128(block + j - 1), delta);
            sum = _mm_xor_si128(sum, encrypt(masked, round_keys));
        }
    }
    // The last block: whole, xored with L(-1); short, padded. Then one more
    // encryption of the sum.
    const std::size_t rest = length - 16 * before_last;
    sum = _mm_xor_si128(sum, last_block(bytes, length, rest));
    if (rest == 16)
        sum = _mm_xor_si128(sum, _mm_load_si128(reinterpret_cast<const __m128i*>(l_inverse)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), encrypt(sum, round_keys));
}

#endif  // KEYAUTH_AES_NI

}  // namespace

bool AesPmac::available() {
#ifdef KEYAUTH_AES_NI
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse2");
#else
    return false;
#endif
}

AesPmac::~AesPmac() {
    sodium_memzero(round_keys_, sizeof round_keys_);
    sodium_memzero(l_inverse_, sizeof l_inverse_);
    sodium_memzero(offsets_, sizeof offsets_);
    sodium_memzero(l_, sizeof l_);
}

void AesPmac::set_key(const Key& key) {
#ifdef KEYAUTH_AES_NI
    expand_key(key.data(), round_keys_);
    encrypt_zero(round_keys_, l_[0]);
    for (std::size_t i = 1; i < kLevels; ++i)
        double_block(l_[i - 1], l_[i]);
    halve_block(l_[0], l_inverse_);
    // Delta_1 = L(0), Delta_j = Delta_(j-1) ^ L(ntz(j)).
    std::memcpy(offsets_[0], l_[0], 16);
    for (std::size_t j = 2; j <= kOffsets; ++j) {
        for (std::size_t i = 0; i < 16; ++i)
            offsets_[j - 1][i] = offsets_[j - 2][i] ^ l_[__builtin_ctzll(j)][i];
    }
#else
    (void)key;
    std::abort();  // never called: available() is false
#endif
}

AesPmac::Tag AesPmac::tag(const std::uint8_t* bytes, std::size_t length) const {
    Tag tag;
#ifdef KEYAUTH_AES_NI
    tag_with_aes_ni(round_keys_, offsets_, kOffsets, l_, l_inverse_, bytes, length, tag.data());
#else
    (void)bytes, (void)length;
    std::abort();  // never called: available() is false
#endif
    return tag;
}

}  // namespace keyauth
