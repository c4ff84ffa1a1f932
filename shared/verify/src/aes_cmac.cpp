#include "aes_cmac.hpp"

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

// L = AES_K(0^128), the subkeys' seed (RFC 4493, 2.3, step 1).
KEYAUTH_AES_NI_CODE void encrypt_zero(const std::uint8_t (*round_keys)[16], std::uint8_t out[16]) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), encrypt(_mm_setzero_si128(), round_keys));
}

// The message's last block (1 to 16 bytes; none for an empty message),
// padded with 10* when short (RFC 4493, 2.4, step 4). From 16 bytes on (a
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
                                         const std::uint8_t k1[16], const std::uint8_t k2[16],
                                         const std::uint8_t* bytes, std::size_t length,
                                         std::uint8_t out[16]) {
    // Every block but the last, chained (RFC 4493, 2.4, steps 5-6). The
    // last is the one holding the final byte; an empty message has one, empty.
    const std::size_t before_last = length == 0 ? 0 : (length - 1) / 16;
    __m128i x = _mm_setzero_si128();
    for (std::size_t i = 0; i < before_last; ++i) {
        const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + 16 * i));
        x = encrypt(_mm_xor_si128(x, block), round_keys);
    }
    // The last block: whole, xored with K1; short, padded and xored with K2.
    const std::size_t rest = length - 16 * before_last;
    const std::uint8_t* subkey = rest == 16 ? k1 : k2;
    x = _mm_xor_si128(x, last_block(bytes, length, rest));
    x = _mm_xor_si128(x, _mm_load_si128(reinterpret_cast<const __m128i*>(subkey)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), encrypt(x, round_keys));
}

#endif  // KEYAUTH_AES_NI

}  // namespace

bool AesCmac::available() {
#ifdef KEYAUTH_AES_NI
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse2");
#else
    return false;
#endif
}

AesCmac::~AesCmac() {
    sodium_memzero(round_keys_, sizeof round_keys_);
    sodium_memzero(k1_, sizeof k1_);
    sodium_memzero(k2_, sizeof k2_);
}

void AesCmac::set_key(const Key& key) {
#ifdef KEYAUTH_AES_NI
    expand_key(key.data(), round_keys_);
    std::uint8_t l[16];
    encrypt_zero(round_keys_, l);
    double_block(l, k1_);
    double_block(k1_, k2_);
    sodium_memzero(l, sizeof l);
#else
    (void)key;
    std::abort();  // never called: available() is false
#endif
}

AesCmac::Tag AesCmac::tag(const std::uint8_t* bytes, std::size_t length) const {
    Tag tag;
#ifdef KEYAUTH_AES_NI
    tag_with_aes_ni(round_keys_, k1_, k2_, bytes, length, tag.data());
#else
    (void)bytes, (void)length;
    std::abort();  // never called: available() is false
#endif
    return tag;
}

}  // namespace keyauth
