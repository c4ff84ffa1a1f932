// AES-128-CMAC on AES-NI (aes_cmac.hpp), the verification cache's MAC where
// the CPU has the instructions: RFC 4493's vectors, and OpenSSL's CMAC for
// random keys and every length from 0 to 300. Skipped on a CPU without AES-NI
// (the cache uses SipHash-2-4-128 there: test_verification_cache.cpp).
#include "unit_test.hpp"

#include <memory>
#include <string>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "aes_cmac.hpp"
#include "keyauth/hex.hpp"

using keyauth::AesCmac;

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view hex) {
    std::vector<std::uint8_t> bytes(hex.size() / 2);
    assert_true(keyauth::from_lower_hex(hex, bytes.data(), bytes.size()));
    return bytes;
}

AesCmac::Key key_of(std::string_view hex) {
    AesCmac::Key key;
    assert_true(keyauth::from_lower_hex(hex, key.data(), key.size()));
    return key;
}

void skip_without_aes_ni() {
    if (!AesCmac::available())
        skip();
}

// RFC 4493, 4: one key, messages of 0, 16, 40 and 64 bytes (no padding, a
// whole last block, a short last block after two, four whole blocks).
constexpr std::string_view kRfcKey = "2b7e151628aed2a6abf7158809cf4f3c";
constexpr std::string_view kRfcMessage =
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

void gives_the_rfc_4493_tags(void**) {
    skip_without_aes_ni();
    AesCmac cmac;
    cmac.set_key(key_of(kRfcKey));
    const std::vector<std::uint8_t> message = bytes_of(kRfcMessage);
    const struct {
        std::size_t length;
        std::string_view tag;
    } examples[] = {
        {0, "bb1d6929e95937287fa37d129b756746"},
        {16, "070a16b46b4d4144f79bdd9dd04a287c"},
        {40, "dfa66747de9ae63030ca32611497c827"},
        {64, "51f0bebf7e3b9d92fc49741779363cfe"},
    };
    for (const auto& example : examples) {
        const AesCmac::Tag tag = cmac.tag(message.data(), example.length);
        assert_memory_equal(tag.data(), bytes_of(example.tag).data(), tag.size());
    }
}

// OpenSSL's CMAC (EVP_MAC "CMAC", cipher AES-128-CBC), the reference.
struct MacDeleter {
    void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
    void operator()(EVP_MAC_CTX* context) const { EVP_MAC_CTX_free(context); }
};

AesCmac::Tag openssl_cmac(const AesCmac::Key& key, const std::uint8_t* bytes, std::size_t length) {
    const std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "CMAC", nullptr));
    assert_non_null(mac.get());
    const std::unique_ptr<EVP_MAC_CTX, MacDeleter> context(EVP_MAC_CTX_new(mac.get()));
    assert_non_null(context.get());
    char cipher[] = "AES-128-CBC";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
        OSSL_PARAM_construct_end(),
    };
    assert_int_equal(EVP_MAC_init(context.get(), key.data(), key.size(), params), 1);
    assert_int_equal(EVP_MAC_update(context.get(), bytes, length), 1);
    AesCmac::Tag tag{};
    std::size_t written = 0;
    assert_int_equal(EVP_MAC_final(context.get(), tag.data(), &written, tag.size()), 1);
    assert_int_equal(written, tag.size());
    return tag;
}

void the_reference_gives_the_rfc_4493_tags_too(void**) {
    const std::vector<std::uint8_t> message = bytes_of(kRfcMessage);
    const AesCmac::Tag tag = openssl_cmac(key_of(kRfcKey), message.data(), 40);
    assert_memory_equal(tag.data(), bytes_of("dfa66747de9ae63030ca32611497c827").data(),
                        tag.size());
}

// Each message in a buffer of exactly its length (AddressSanitizer sees a
// read past it), each key random; every length from no block to 18 blocks
// and a bit, so every last block is met: empty, short, whole.
void agrees_with_openssl_for_every_length_up_to_300(void**) {
    skip_without_aes_ni();
    assert_true(sodium_init() >= 0);
    for (std::size_t length = 0; length <= 300; ++length) {
        AesCmac::Key key;
        randombytes_buf(key.data(), key.size());
        const std::unique_ptr<std::uint8_t[]> message(new std::uint8_t[length]);
        randombytes_buf(message.get(), length);
        AesCmac cmac;
        cmac.set_key(key);
        const AesCmac::Tag ours = cmac.tag(message.get(), length);
        const AesCmac::Tag reference = openssl_cmac(key, message.get(), length);
        if (ours != reference) {
            print_error("length %zu, key %s\n", length,
                        keyauth::to_hex(key.data(), key.size()).c_str());
            fail();
        }
    }
}

// A header value's 76 bytes at every alignment, under one key set once.
void agrees_with_openssl_at_any_alignment(void**) {
    skip_without_aes_ni();
    assert_true(sodium_init() >= 0);
    AesCmac::Key key;
    randombytes_buf(key.data(), key.size());
    AesCmac cmac;
    cmac.set_key(key);
    std::uint8_t buffer[76 + 16];
    randombytes_buf(buffer, sizeof buffer);
    for (std::size_t offset = 0; offset < 16; ++offset) {
        const AesCmac::Tag ours = cmac.tag(buffer + offset, 76);
        assert_true(ours == openssl_cmac(key, buffer + offset, 76));
    }
}

// One bit anywhere, in the message or the key, gives another tag.
void a_flipped_bit_gives_another_tag(void**) {
    skip_without_aes_ni();
    AesCmac::Key key = key_of(kRfcKey);
    std::vector<std::uint8_t> message = bytes_of(kRfcMessage);
    AesCmac cmac;
    cmac.set_key(key);
    const AesCmac::Tag tag = cmac.tag(message.data(), 40);
    for (std::size_t bit = 0; bit < 40 * 8; ++bit) {
        message[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        assert_false(cmac.tag(message.data(), 40) == tag);
        message[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    }
    assert_false(cmac.tag(message.data(), 39) == tag);
    key[15] ^= 1;
    cmac.set_key(key);
    assert_false(cmac.tag(message.data(), 40) == tag);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gives_the_rfc_4493_tags),
        cmocka_unit_test(the_reference_gives_the_rfc_4493_tags_too),
        cmocka_unit_test(agrees_with_openssl_for_every_length_up_to_300),
        cmocka_unit_test(agrees_with_openssl_at_any_alignment),
        cmocka_unit_test(a_flipped_bit_gives_another_tag),
    };
    return run_group(tests);
}
