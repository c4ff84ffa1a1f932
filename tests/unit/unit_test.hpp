// CMocka from C++, and the assertions the unit tests share.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <csetjmp>

// cmocka 1.1 declares its functions without extern "C".
extern "C" {
#include <cmocka.h>
}

#include <string>
#include <string_view>

#include "keyauth/result.hpp"
#include "test_support.hpp"

// Exact equality of two byte strings, NULs included.
#define assert_sv_equal(actual, expected)                                                    \
    do {                                                                                     \
        const std::string actual_text_(actual);                                              \
        const std::string expected_text_(expected);                                          \
        if (actual_text_ != expected_text_) {                                                \
            print_error("expected \"%s\" (%zu bytes), got \"%s\" (%zu bytes)\n",             \
                        expected_text_.c_str(), expected_text_.size(), actual_text_.c_str(), \
                        actual_text_.size());                                                \
            fail();                                                                          \
        }                                                                                    \
    } while (0)

#define assert_code(status, expected) \
    assert_int_equal(static_cast<int>((status).code()), static_cast<int>(expected))

#define assert_ok(status)                                                           \
    do {                                                                            \
        const auto& status_ = (status);                                             \
        if (!status_.ok()) {                                                        \
            print_error("unexpected error: %s\n", status_.error().message.c_str()); \
            fail();                                                                 \
        }                                                                           \
    } while (0)

#define run_group(tests) cmocka_run_group_tests(tests, nullptr, nullptr)
