// PMAC (Black-Rogaway 2002, Gray-code offsets) with AES-128 on AES-NI (aes_pmac.hpp), the verification cache's MAC
// where the CPU has the instructions: the published vectors (Rogaway's
// pmac-test.htm, as miscreant's vectors/aes_pmac.tjson carry them), and a
// reference written here from the definition over OpenSSL's AES-128-ECB for
// random keys and every length from 0 to 300. Skipped on a CPU without
// AES-NI (the cache uses SipHash-2-4-128 there: test_verification_cache.cpp).
#include "unit_test.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <sodium.h>

#include "aes_pmac.hpp"
#include "keyauth/hex.hpp"

using keyauth::AesPmac;

namespace {

using Block = std::array<std::uint8_t, 16>;

std::vector<std::uint8_t> bytes_of(std::string_view hex) {
    std::vector<std::uint8_t> bytes(hex.size() / 2);
    assert_true(keyauth::from_lower_hex(hex, bytes.data(), bytes.size()));
    return bytes;
}

AesPmac::Key key_of(std::string_view hex) {
    AesPmac::Key key;
    assert_true(keyauth::from_lower_hex(hex, key.data(), key.size()));
    return key;
}

void skip_without_aes_ni() {
    if (!AesPmac::available())
        skip();
}

// ---- The reference: PMAC as its definition reads, one block at a time,
// AES-128 from OpenSSL (EVP, AES-128-ECB, no padding), GF(2^128) by bits.

struct CipherDeleter {
    void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};

Block aes_128(const AesPmac::Key& key, const Block& in) {
    const std::unique_ptr<EVP_CIPHER_CTX, CipherDeleter> context(EVP_CIPHER_CTX_new());
    assert_non_null(context.get());
    assert_int_equal(
        EVP_EncryptInit_ex(context.get(), EVP_aes_128_ecb(), nullptr, key.data(), nullptr), 1);
    assert_int_equal(EVP_CIPHER_CTX_set_padding(context.get(), 0), 1);
    Block out{};
    int written = 0;
    assert_int_equal(EVP_EncryptUpdate(context.get(), out.data(), &written, in.data(), 16), 1);
    assert_int_equal(written, 16);
    return out;
}

Block xor_of(Block a, const Block& b) {
    for (std::size_t i = 0; i < 16; ++i)
        a[i] ^= b[i];
    return a;
}

// a · x: shifted left, 0^120 10000111 folded in when the first bit was set.
Block times_x(const Block& a) {
    Block out{};
    for (std::size_t i = 0; i < 16; ++i)
        out[i] = static_cast<std::uint8_t>((a[i] << 1) | (i < 15 ? a[i + 1] >> 7 : 0));
    if (a[0] & 0x80)
        out[15] ^= 0x87;
    return out;
}

// a · x^-1: shifted right, 1 0^120 1000011 folded in when the last bit was set.
Block divided_by_x(const Block& a) {
    Block out{};
    for (std::size_t i = 0; i < 16; ++i)
        out[i] = static_cast<std::uint8_t>((a[i] >> 1) | (i > 0 ? a[i - 1] << 7 : 0));
    if (a[15] & 1) {
        out[0] ^= 0x80;
        out[15] ^= 0x43;
    }
    return out;
}

unsigned trailing_zeros(std::size_t i) {
    unsigned n = 0;
    for (; (i & 1) == 0; i >>= 1)
        ++n;
    return n;
}

AesPmac::Tag reference_pmac(const AesPmac::Key& key, const std::uint8_t* bytes,
                            std::size_t length) {
    const Block l = aes_128(key, Block{});
    // M_1 .. M_m: every block whole but the last (1 to 16 bytes; empty for
    // an empty message).
    const std::size_t m = length == 0 ? 1 : (length + 15) / 16;
    Block offset{};
    Block sum{};
    for (std::size_t i = 1; i < m; ++i) {
        Block l_i = l;
        for (unsigned k = trailing_zeros(i); k > 0; --k)
            l_i = times_x(l_i);
        offset = xor_of(offset, l_i);
        Block block;
        std::memcpy(block.data(), bytes + 16 * (i - 1), 16);
        sum = xor_of(sum, aes_128(key, xor_of(block, offset)));
    }
    const std::size_t rest = length - 16 * (m - 1);
    Block last{};
    if (rest > 0)  // an empty message may come as a null pointer
        std::memcpy(last.data(), bytes + 16 * (m - 1), rest);
    if (rest == 16) {
        sum = xor_of(sum, xor_of(last, divided_by_x(l)));
    } else {
        last[rest] = 0x80;
        sum = xor_of(sum, last);
    }
    return aes_128(key, sum);
}

// ---- The published vectors: key 000102..0f, messages 00 01 02 .. of 0, 3,
// 16, 20, 32 and 34 bytes, and 1 000 zero bytes.
constexpr std::string_view kVectorKey = "000102030405060708090a0b0c0d0e0f";
const struct {
    std::size_t length;
    bool zeros;
    std::string_view tag;
} kVectors[] = {
    {0, false, "4399572cd6ea5341b8d35876a7098af7"},
    {3, false, "256ba5193c1b991b4df0c51f388a9e27"},
    {16, false, "ebbd822fa458daf6dfdad7c27da76338"},
    {20, false, "0412ca150bbf79058d8c75a58c993f55"},
    {32, false, "e97ac04e9e5e3399ce5355cd7407bc75"},
    {34, false, "5cba7d5eb24f7c86ccc54604e53d5512"},
    {1000, true, "c2c9fa1d9985f6f0d2aff915a0e8d910"},
};

std::vector<std::uint8_t> vector_message(std::size_t length, bool zeros) {
    std::vector<std::uint8_t> message(length);
    for (std::size_t i = 0; i < length; ++i)
        message[i] = zeros ? 0 : static_cast<std::uint8_t>(i);
    return message;
}

void gives_the_published_tags(void**) {
    skip_without_aes_ni();
    AesPmac pmac;
    pmac.set_key(key_of(kVectorKey));
    for (const auto& example : kVectors) {
        const std::vector<std::uint8_t> message = vector_message(example.length, example.zeros);
        const AesPmac::Tag tag = pmac.tag(message.data(), message.size());
        assert_memory_equal(tag.data(), bytes_of(example.tag).data(), tag.size());
    }
}

void the_reference_gives_the_published_tags_too(void**) {
    for (const auto& example : kVectors) {
        const std::vector<std::uint8_t> message = vector_message(example.length, example.zeros);
        const AesPmac::Tag tag = reference_pmac(key_of(kVectorKey), message.data(), message.size());
        assert_memory_equal(tag.data(), bytes_of(example.tag).data(), tag.size());
    }
}

// Each message in a buffer of exactly its length (AddressSanitizer sees a
// read past it), each key random; every length from no block to 18 blocks
// and a bit, so every last block is met (empty, short, whole) and offsets
// with ntz up to 4.
void agrees_with_the_reference_for_every_length_up_to_300(void**) {
    skip_without_aes_ni();
    assert_true(sodium_init() >= 0);
    for (std::size_t length = 0; length <= 300; ++length) {
        AesPmac::Key key;
        randombytes_buf(key.data(), key.size());
        const std::unique_ptr<std::uint8_t[]> message(new std::uint8_t[length]);
        randombytes_buf(message.get(), length);
        AesPmac pmac;
        pmac.set_key(key);
        const AesPmac::Tag ours = pmac.tag(message.get(), length);
        const AesPmac::Tag reference = reference_pmac(key, message.get(), length);
        if (ours != reference) {
            print_error("length %zu, key %s\n", length,
                        keyauth::to_hex(key.data(), key.size()).c_str());
            fail();
        }
    }
}

// A header value's 76 bytes at every alignment, under one key set once.
void agrees_with_the_reference_at_any_alignment(void**) {
    skip_without_aes_ni();
    assert_true(sodium_init() >= 0);
    AesPmac::Key key;
    randombytes_buf(key.data(), key.size());
    AesPmac pmac;
    pmac.set_key(key);
    std::uint8_t buffer[76 + 16];
    randombytes_buf(buffer, sizeof buffer);
    for (std::size_t offset = 0; offset < 16; ++offset) {
        const AesPmac::Tag ours = pmac.tag(buffer + offset, 76);
        assert_true(ours == reference_pmac(key, buffer + offset, 76));
    }
}

// One bit anywhere, in the message or the key, gives another tag; so does
// a block moved (the offsets tell the blocks' places apart).
void a_flipped_bit_gives_another_tag(void**) {
    skip_without_aes_ni();
    AesPmac::Key key = key_of(kVectorKey);
    std::vector<std::uint8_t> message = vector_message(76, false);
    AesPmac pmac;
    pmac.set_key(key);
    const AesPmac::Tag tag = pmac.tag(message.data(), 76);
    for (std::size_t bit = 0; bit < 76 * 8; ++bit) {
        message[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        assert_false(pmac.tag(message.data(), 76) == tag);
        message[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    }
    assert_false(pmac.tag(message.data(), 75) == tag);
    std::vector<std::uint8_t> swapped = message;
    std::swap_ranges(swapped.begin(), swapped.begin() + 16, swapped.begin() + 16);
    assert_false(pmac.tag(swapped.data(), 76) == tag);
    key[15] ^= 1;
    pmac.set_key(key);
    assert_false(pmac.tag(message.data(), 76) == tag);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gives_the_published_tags),
        cmocka_unit_test(the_reference_gives_the_published_tags_too),
        cmocka_unit_test(agrees_with_the_reference_for_every_length_up_to_300),
        cmocka_unit_test(agrees_with_the_reference_at_any_alignment),
        cmocka_unit_test(a_flipped_bit_gives_another_tag),
    };
    return run_group(tests);
}
