// The Authorization header: "Bearer" in any case, spaces, exactly one token.
#include "unit_test.hpp"

#include "keyauth/bearer.hpp"

using keyauth::bearer_token;
using namespace std::literals;

namespace {

constexpr std::string_view kToken =
    "myapp01:b:00112233445566778899aabbccddeeff0123456789abcdef0f1e2d3c4b5a6978";

void gives(std::string_view header, std::string_view token) {
    const auto found = bearer_token(header);
    assert_true(found.has_value());
    assert_sv_equal(*found, token);
}

void refuses(std::string_view header) {
    assert_false(bearer_token(header).has_value());
}

void takes_the_token_after_bearer(void**) {
    gives("Bearer " + std::string(kToken), kToken);
    gives("Bearer x", "x");
}

void scheme_is_case_insensitive(void**) {
    for (std::string_view scheme : {"bearer"sv, "BEARER"sv, "BeArEr"sv, "bEARER"sv}) {
        gives(std::string(scheme) + " " + std::string(kToken), kToken);
    }
}

void several_spaces_and_tabs_separate(void**) {
    gives("Bearer    " + std::string(kToken), kToken);
    gives("Bearer\t" + std::string(kToken), kToken);
    gives("Bearer \t \t" + std::string(kToken), kToken);
}

void trailing_spaces_are_ignored(void**) {
    gives("Bearer " + std::string(kToken) + "   ", kToken);
    gives("Bearer " + std::string(kToken) + "\t", kToken);
}

void refuses_no_token(void**) {
    refuses("");
    refuses("Bearer");
    refuses("bearer");
    refuses("Bearer ");
    refuses("Bearer     ");
    refuses("Bearer\t\t");
}

void refuses_extra_words(void**) {
    refuses("Bearer a b");
    refuses("Bearer " + std::string(kToken) + " " + std::string(kToken));
    refuses("Bearer " + std::string(kToken) + "\textra");
    refuses("Bearer Bearer " + std::string(kToken));
}

void refuses_other_schemes_and_missing_separator(void**) {
    refuses("Basic " + std::string(kToken));
    refuses("Bearer" + std::string(kToken));
    refuses("Bearer:" + std::string(kToken));
    refuses("Bearers " + std::string(kToken));
    refuses("Beare " + std::string(kToken));
    refuses(" Bearer " + std::string(kToken));
    refuses(std::string(kToken));
    refuses("Token " + std::string(kToken));
}

void refuses_non_ascii_and_control_bytes(void**) {
    refuses("Bearer caf\xc3\xa9");
    refuses("Bearer \xff\xfe");
    refuses(
        "B\xc3\xa9"
        "arer x");
    refuses("Bearer\xc2\xa0x");  // no-break space is not a separator
    refuses("Bearer a\x7f");
    refuses("Bearer a\x01");
    refuses("Bearer a\rb");
    refuses("Bearer a\nb");
    refuses("Bearer x\r\n");
    refuses("Bearer\nx");
    refuses("Bearer\vx");
}

// The check reads eight bytes a step: every byte inside the credential, at
// every offset of a word and of the tail, passes exactly when printable.
void every_byte_inside_the_token_passes_only_if_printable(void**) {
    const std::string token = "abcdefghijklmnopqrstuvw";  // two words and a tail
    for (std::size_t i = 1; i + 1 < token.size(); ++i) {
        for (int c = 0; c < 256; ++c) {
            std::string changed = token;
            changed[i] = static_cast<char>(c);
            const std::string header = "Bearer " + changed;
            if (c > 0x20 && c < 0x7f)
                gives(header, changed);
            else
                refuses(header);
        }
    }
}

void refuses_embedded_nul(void**) {
    refuses(std::string_view("Bearer ab\0cd", 12));
    refuses(std::string_view("Bearer \0abc", 11));
    refuses(std::string_view("Bearer\0abc", 10));
    refuses(std::string_view("Bearer abc\0", 11));
}

void does_not_judge_the_token_itself(void**) {
    // Syntax of the token is parse_token's business; any printable word passes.
    gives("Bearer not-a-token", "not-a-token");
    gives("bearer ~!$%^&*()", "~!$%^&*()");
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(takes_the_token_after_bearer),
        cmocka_unit_test(scheme_is_case_insensitive),
        cmocka_unit_test(several_spaces_and_tabs_separate),
        cmocka_unit_test(trailing_spaces_are_ignored),
        cmocka_unit_test(refuses_no_token),
        cmocka_unit_test(refuses_extra_words),
        cmocka_unit_test(refuses_other_schemes_and_missing_separator),
        cmocka_unit_test(refuses_non_ascii_and_control_bytes),
        cmocka_unit_test(every_byte_inside_the_token_passes_only_if_printable),
        cmocka_unit_test(refuses_embedded_nul),
        cmocka_unit_test(does_not_judge_the_token_itself),
    };
    return run_group(tests);
}
