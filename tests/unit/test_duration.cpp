// Durations as operators write them.
#include "unit_test.hpp"

#include "keyauth/duration.hpp"

namespace {

void parses_each_unit(void**) {
    assert_int_equal(*keyauth::parse_duration("0"), 0);
    assert_int_equal(*keyauth::parse_duration("90s"), 90);
    assert_int_equal(*keyauth::parse_duration("15m"), 900);
    assert_int_equal(*keyauth::parse_duration("12h"), 43200);
    assert_int_equal(*keyauth::parse_duration("30d"), 2592000);
    assert_int_equal(*keyauth::parse_duration("0d"), 0);
    assert_int_equal(*keyauth::parse_duration("36500d"), keyauth::kMaxDurationSeconds);
}

void refuses_anything_else(void**) {
    for (const char* bad : {"", "d", "30", "-1d", "+1d", " 1d", "1d ", "1.5d", "1e3s", "30w", "30D",
                            "36501d", "99999999999999999999s", "0x10s", "1dd"}) {
        auto parsed = keyauth::parse_duration(bad);
        if (parsed.ok())
            fail_msg("accepted [%s]", bad);
        assert_int_equal(parsed.error().code, keyauth::Errc::invalid_argument);
    }
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_each_unit),
        cmocka_unit_test(refuses_anything_else),
    };
    return run_group(tests);
}
