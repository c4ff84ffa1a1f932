// Tokens: "<id>:b:<64 lowercase hex>", parsed strictly, hashed with BLAKE2b-256.
#include "unit_test.hpp"

#include <cstring>
#include <set>
#include <vector>

#include "keyauth/hex.hpp"
#include "keyauth/token.hpp"

using keyauth::generate_token;
using keyauth::parse_token;
using keyauth::ParsedToken;
using keyauth::TokenHash;
using keyauth_test::token_text;

namespace {

constexpr std::string_view kHex =
    "00112233445566778899aabbccddeeff0123456789abcdef0f1e2d3c4b5a6978";

bool parses(std::string_view text) {
    ParsedToken parsed;
    return parse_token(text, parsed);
}

bool is_lower_hex(std::string_view text) {
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

void generated_token_has_the_seed_format(void**) {
    const keyauth::IssuedToken token = generate_token("myapp01");
    const std::string_view text = token.text.view();
    assert_int_equal(text.size(), 7 + 3 + 64);
    assert_sv_equal(text.substr(0, 10), "myapp01:b:");
    assert_true(is_lower_hex(text.substr(10)));
}

void generated_token_parses_back_to_its_hash(void**) {
    const keyauth::IssuedToken token = generate_token("myapp01");
    ParsedToken parsed;
    assert_true(parse_token(token.text.view(), parsed));
    assert_sv_equal(parsed.client_id, "myapp01");
    assert_true(keyauth::token_hashes_equal(keyauth::hash_token_secret(parsed.secret), token.hash));
}

void generated_tokens_differ(void**) {
    std::set<std::string> seen;
    for (int i = 0; i < 32; ++i)
        seen.insert(std::string(generate_token("a").text.view()));
    assert_int_equal(seen.size(), 32);
}

void parses_id_and_secret_bytes(void**) {
    ParsedToken parsed;
    const std::string text = token_text("myapp01", kHex);
    assert_true(parse_token(text, parsed));
    assert_sv_equal(parsed.client_id, "myapp01");
    // The id points into the text itself.
    assert_ptr_equal(parsed.client_id.data(), text.data());
    const std::uint8_t expected_start[] = {0x00, 0x11, 0x22, 0x33};
    assert_memory_equal(parsed.secret.data(), expected_start, sizeof expected_start);
    assert_int_equal(parsed.secret.data()[31], 0x78);
}

void hashing_is_deterministic_and_is_blake2b_256(void**) {
    const TokenHash a = keyauth_test::hash_of_hex(kHex);
    const TokenHash b = keyauth_test::hash_of_hex(kHex);
    assert_memory_equal(a.bytes.data(), b.bytes.data(), a.bytes.size());
    // BLAKE2b-256 of 32 zero bytes, unkeyed.
    keyauth::TokenSecret zero;
    const TokenHash z = keyauth::hash_token_secret(zero);
    std::uint8_t expected[32];
    const std::uint8_t input[32] = {};
    crypto_generichash(expected, sizeof expected, input, sizeof input, nullptr, 0);
    assert_memory_equal(z.bytes.data(), expected, 32);
    assert_memory_not_equal(a.bytes.data(), z.bytes.data(), 32);
}

void token_hashes_equal_compares_every_byte(void**) {
    TokenHash a;
    a.bytes.fill(0x5a);
    TokenHash b = a;
    assert_true(keyauth::token_hashes_equal(a, b));
    for (std::size_t i : {std::size_t{0}, std::size_t{15}, std::size_t{31}}) {
        TokenHash c = a;
        c.bytes[i] ^= 0x01;
        assert_false(keyauth::token_hashes_equal(a, c));
    }
}

void every_single_character_change_is_refused_or_changes_the_secret(void**) {
    const std::string good = token_text("myapp01", kHex);
    const TokenHash good_hash = keyauth_test::hash_of_hex(kHex);
    for (std::size_t i = 0; i < good.size(); ++i) {
        for (int c = 0; c < 256; ++c) {
            if (static_cast<char>(c) == good[i])
                continue;
            std::string changed = good;
            changed[i] = static_cast<char>(c);
            ParsedToken parsed;
            if (!parse_token(changed, parsed))
                continue;
            // Whatever still parses names another client or another secret.
            const bool same_id = parsed.client_id == "myapp01";
            const bool same_secret =
                keyauth::token_hashes_equal(keyauth::hash_token_secret(parsed.secret), good_hash);
            assert_false(same_id && same_secret);
        }
    }
}

// The decoder reads eight digits a step: every byte at every digit is
// refused unless it is a lowercase hex digit, and otherwise lands in its own
// nibble; a byte with its high bit set cannot carry into its neighbour.
void every_byte_at_every_digit_decodes_exactly_or_is_refused(void**) {
    const std::string good = token_text("myapp01", kHex);
    const std::size_t first = good.size() - kHex.size();
    for (std::size_t i = 0; i < kHex.size(); ++i) {
        for (int c = 0; c < 256; ++c) {
            std::string changed = good;
            changed[first + i] = static_cast<char>(c);
            ParsedToken parsed;
            const bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            assert_int_equal(parse_token(changed, parsed), digit);
            if (!digit)
                continue;
            const std::string hex = changed.substr(first);
            for (std::size_t b = 0; b < keyauth::kTokenSecretBytes; ++b) {
                assert_int_equal(parsed.secret.data()[b],
                                 std::stoul(hex.substr(2 * b, 2), nullptr, 16));
            }
        }
        if (i + 1 < kHex.size()) {
            std::string changed = good;
            changed[first + i] = '\xff';
            changed[first + i + 1] = '/';  // '0' - 1: a carry would make it a digit
            assert_false(parses(changed));
        }
    }
}

// from_lower_hex in 32-digit steps, then 8, then one byte: every length to
// 80 bytes decodes as to_hex encodes, and a bad digit anywhere is refused.
void hex_of_every_length_decodes_or_is_refused_at_any_digit(void**) {
    for (std::size_t length = 0; length <= 80; ++length) {
        std::vector<std::uint8_t> bytes(length);
        for (std::size_t i = 0; i < length; ++i)
            bytes[i] = static_cast<std::uint8_t>(i * 37 + length);
        const std::string hex = keyauth::to_hex(bytes.data(), length);
        std::vector<std::uint8_t> decoded(length + 1, 0xee);
        assert_true(keyauth::from_lower_hex(hex, decoded.data(), length));
        assert_memory_equal(decoded.data(), bytes.data(), length);
        assert_int_equal(decoded[length], 0xee);  // nothing written past
        for (std::size_t at = 0; at < hex.size(); ++at) {
            for (const char bad : {'/', ':', '`', 'g', 'A', 'F', '\0', '\x80', '\xb0', '\xe1'}) {
                std::string changed = hex;
                changed[at] = bad;
                assert_false(keyauth::from_lower_hex(changed, decoded.data(), length));
            }
        }
    }
}

void refuses_wrong_secret_length(void**) {
    const std::string hex(kHex);
    assert_true(parses(token_text("a", hex)));
    assert_false(parses(token_text("a", hex.substr(0, 63))));
    assert_false(parses(token_text("a", hex + "0")));
    assert_false(parses(token_text("a", hex.substr(0, 62))));
    assert_false(parses(token_text("a", hex + "00")));
    assert_false(parses(token_text("a", "")));
}

void refuses_upper_case_hex(void**) {
    std::string hex(kHex);
    assert_true(parses(token_text("a", hex)));
    hex[20] = 'A';  // was 'a'
    assert_false(parses(token_text("a", hex)));
    for (char& c : hex)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    assert_false(parses(token_text("a", hex)));
    // The scheme letter is lowercase too.
    assert_false(parses("a:B:" + std::string(kHex)));
}

void refuses_embedded_nul(void**) {
    std::string text = token_text("myapp01", kHex);
    text[text.size() - 1] = '\0';
    assert_false(parses(text));
    std::string in_id = token_text(std::string("my\0pp01", 7), kHex);
    assert_int_equal(in_id.size(), 74);
    assert_false(parses(in_id));
    assert_false(parses(token_text("myapp01", kHex) + std::string(1, '\0')));
}

void refuses_missing_or_damaged_separator(void**) {
    const std::string hex(kHex);
    assert_false(parses("myapp01" + hex));
    assert_false(parses("myapp01:" + hex));
    assert_false(parses("myapp01:b" + hex));
    assert_false(parses("myapp01b:" + hex));
    assert_false(parses("myapp01:c:" + hex));
    assert_false(parses("myapp01::" + hex));
    assert_false(parses(":b:" + hex));
    assert_false(parses("myapp01:b:"));
    assert_false(parses(""));
}

void refuses_extra_separator(void**) {
    const std::string hex(kHex);
    assert_false(parses("myapp01:b:" + hex + ":b:"));
    assert_false(parses("myapp01:b::b:" + hex));
    assert_false(parses("my:b:app01:b:" + hex));
    assert_false(parses("myapp01:b:" + hex.substr(0, 32) + ":b:" + hex.substr(32)));
}

void refuses_bad_client_id(void**) {
    const std::string hex(kHex);
    assert_false(parses(".a:b:" + hex));
    assert_false(parses("a..b:b:" + hex));
    assert_false(parses("a/b:b:" + hex));
    assert_false(parses("a b:b:" + hex));
    assert_true(parses(std::string(64, 'i') + ":b:" + hex));
    assert_false(parses(std::string(65, 'i') + ":b:" + hex));
}

void refuses_whitespace_around_token(void**) {
    const std::string good = token_text("a", kHex);
    assert_false(parses(" " + good));
    assert_false(parses(good + " "));
    assert_false(parses(good + "\n"));
    assert_false(parses(good + "\r\n"));
}

void max_length_is_a_64_character_id(void**) {
    assert_int_equal(keyauth::kMaxTokenLength, 131);
    const std::string longest = std::string(64, 'x') + ":b:" + std::string(kHex);
    assert_int_equal(longest.size(), keyauth::kMaxTokenLength);
    assert_true(parses(longest));
    assert_false(parses(std::string(100000, 'a')));
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_token_has_the_seed_format),
        cmocka_unit_test(generated_token_parses_back_to_its_hash),
        cmocka_unit_test(generated_tokens_differ),
        cmocka_unit_test(parses_id_and_secret_bytes),
        cmocka_unit_test(hashing_is_deterministic_and_is_blake2b_256),
        cmocka_unit_test(token_hashes_equal_compares_every_byte),
        cmocka_unit_test(every_single_character_change_is_refused_or_changes_the_secret),
        cmocka_unit_test(every_byte_at_every_digit_decodes_exactly_or_is_refused),
        cmocka_unit_test(hex_of_every_length_decodes_or_is_refused_at_any_digit),
        cmocka_unit_test(refuses_wrong_secret_length),
        cmocka_unit_test(refuses_upper_case_hex),
        cmocka_unit_test(refuses_embedded_nul),
        cmocka_unit_test(refuses_missing_or_damaged_separator),
        cmocka_unit_test(refuses_extra_separator),
        cmocka_unit_test(refuses_bad_client_id),
        cmocka_unit_test(refuses_whitespace_around_token),
        cmocka_unit_test(max_length_is_a_64_character_id),
    };
    return run_group(tests);
}
