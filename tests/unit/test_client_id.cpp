// Client ids: every rule of client_id.hpp.
#include "unit_test.hpp"

#include "keyauth/client_id.hpp"

using keyauth::check_client_id;
using keyauth::Errc;
using keyauth::is_valid_client_id;
using namespace std::literals;

namespace {

void refused_with(std::string_view id, std::string_view message) {
    assert_false(is_valid_client_id(id));
    const keyauth::Status status = check_client_id(id);
    assert_code(status, Errc::invalid_argument);
    assert_sv_equal(status.error().message, message);
}

void accepts_the_seed_ids(void**) {
    for (std::string_view id : {"myapp01"sv, "myid2"sv, "a"sv, "7"sv, "Z"sv}) {
        assert_true(is_valid_client_id(id));
        assert_ok(check_client_id(id));
    }
}

void accepts_every_allowed_character(void**) {
    assert_true(is_valid_client_id("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    assert_true(is_valid_client_id("abcdefghijklmnopqrstuvwxyz"));
    assert_true(is_valid_client_id("0123456789"));
    assert_true(is_valid_client_id("a.b_c@d-e"));
    assert_true(is_valid_client_id("9-"));
    assert_true(is_valid_client_id("user@example.com"));
    assert_true(is_valid_client_id("a._.b"));
}

// The byte classes are a table: every byte, first and further in, against
// the rule as SPEC.md words it.
void every_byte_first_and_further_in_is_classed_as_the_rule_says(void**) {
    for (int c = 0; c < 256; ++c) {
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        const bool allowed = alnum || c == '.' || c == '_' || c == '@' || c == '-';
        const char byte = static_cast<char>(c);
        assert_int_equal(is_valid_client_id(std::string(1, byte) + "a"), alnum);
        assert_int_equal(is_valid_client_id("a" + std::string(1, byte)), allowed);
        assert_int_equal(is_valid_client_id("ab" + std::string(1, byte) + "cd"), allowed);
    }
}

void refuses_empty(void**) {
    refused_with("", "client id is empty");
}

void length_64_accepted_65_refused(void**) {
    const std::string id64(64, 'a');
    assert_true(is_valid_client_id(id64));
    assert_ok(check_client_id(id64));
    refused_with(id64 + "b", "client id is longer than 64 characters");
    refused_with(std::string(1000, 'x'), "client id is longer than 64 characters");
}

void first_character_must_be_letter_or_digit(void**) {
    refused_with(".hidden", "client id must start with a letter or digit (found '.')");
    refused_with("_x", "client id must start with a letter or digit (found '_')");
    refused_with("@x", "client id must start with a letter or digit (found '@')");
    refused_with("-x", "client id must start with a letter or digit (found '-')");
    refused_with(".", "client id must start with a letter or digit (found '.')");
}

void refuses_double_dot(void**) {
    refused_with("a..b", "client id must not contain \"..\"");
    refused_with("a..", "client id must not contain \"..\"");
    refused_with("a...b", "client id must not contain \"..\"");
    assert_true(is_valid_client_id("a.b.c"));
    assert_true(is_valid_client_id("a."));
}

void refuses_mqtt_and_path_characters(void**) {
    refused_with("a/b", "client id may only hold A-Z a-z 0-9 . _ @ - (found '/')");
    refused_with("a+b", "client id may only hold A-Z a-z 0-9 . _ @ - (found '+')");
    refused_with("a#b", "client id may only hold A-Z a-z 0-9 . _ @ - (found '#')");
    refused_with("a b", "client id may only hold A-Z a-z 0-9 . _ @ - (found byte 0x20)");
    refused_with("a:b", "client id may only hold A-Z a-z 0-9 . _ @ - (found ':')");
    refused_with("a\\b", "client id may only hold A-Z a-z 0-9 . _ @ - (found '\\')");
    refused_with("/etc", "client id must start with a letter or digit (found '/')");
}

void refuses_control_and_non_ascii_bytes(void**) {
    refused_with("a\tb", "client id may only hold A-Z a-z 0-9 . _ @ - (found byte 0x09)");
    refused_with("a\nb", "client id may only hold A-Z a-z 0-9 . _ @ - (found byte 0x0a)");
    refused_with("a\x7f", "client id may only hold A-Z a-z 0-9 . _ @ - (found byte 0x7f)");
    refused_with("a\x1b", "client id may only hold A-Z a-z 0-9 . _ @ - (found byte 0x1b)");
    refused_with("caf\xc3\xa9", "client id may only hold A-Z a-z 0-9 . _ @ - (found byte 0xc3)");
    refused_with("\xff", "client id must start with a letter or digit (found byte 0xff)");
}

void refuses_embedded_nul(void**) {
    // Explicit lengths: a C-string view would stop at the NUL.
    refused_with(std::string_view("ab\0cd", 5),
                 "client id may only hold A-Z a-z 0-9 . _ @ - (found byte 0x00)");
    refused_with(std::string_view("ab\0", 3),
                 "client id may only hold A-Z a-z 0-9 . _ @ - (found byte 0x00)");
    refused_with(std::string_view("\0ab", 3),
                 "client id must start with a letter or digit (found byte 0x00)");
    // 64 valid characters then a NUL: too long, whatever a C string says.
    std::string padded(64, 'a');
    padded.push_back('\0');
    refused_with(padded, "client id is longer than 64 characters");
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_the_seed_ids),
        cmocka_unit_test(accepts_every_allowed_character),
        cmocka_unit_test(every_byte_first_and_further_in_is_classed_as_the_rule_says),
        cmocka_unit_test(refuses_empty),
        cmocka_unit_test(length_64_accepted_65_refused),
        cmocka_unit_test(first_character_must_be_letter_or_digit),
        cmocka_unit_test(refuses_double_dot),
        cmocka_unit_test(refuses_mqtt_and_path_characters),
        cmocka_unit_test(refuses_control_and_non_ascii_bytes),
        cmocka_unit_test(refuses_embedded_nul),
    };
    return run_group(tests);
}
