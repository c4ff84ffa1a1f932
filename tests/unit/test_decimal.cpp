// The one spelling of a number keyauth writes for itself and reads back.
#include "unit_test.hpp"

#include "keyauth/decimal.hpp"

namespace {

void reads_digits_alone(void**) {
    assert_true(keyauth::parse_decimal("0") == std::uint64_t{0});
    assert_true(keyauth::parse_decimal("7") == std::uint64_t{7});
    assert_true(keyauth::parse_decimal("1700000000") == std::uint64_t{1700000000});
    assert_true(keyauth::parse_decimal("18446744073709551615") == UINT64_MAX);
}

void refuses_every_other_spelling(void**) {
    for (const char* bad : {"", "-0", "-1", "+1", " 1", "1 ", "01", "00", "0x10", "1e3", "1.0",
                            "12a", "a12", "１", "18446744073709551616", "99999999999999999999"}) {
        if (keyauth::parse_decimal(bad))
            fail_msg("accepted [%s]", bad);
    }
    // Cut at a NUL: the view's every byte is read, not a C string's.
    assert_false(keyauth::parse_decimal(std::string_view("12\0003", 4)).has_value());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_digits_alone),
        cmocka_unit_test(refuses_every_other_spelling),
    };
    return run_group(tests);
}
