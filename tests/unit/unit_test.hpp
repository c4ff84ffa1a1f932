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

// Two records alike in every field.
inline void assert_same_credentials(const keyauth::ClientCredentials& a,
                                    const keyauth::ClientCredentials& b) {
    assert_memory_equal(a.token_hash.bytes.data(), b.token_hash.bytes.data(), 32);
    assert_memory_equal(a.certificate_fingerprint.bytes.data(),
                        b.certificate_fingerprint.bytes.data(), 32);
    assert_int_equal(a.serial.length, b.serial.length);
    assert_memory_equal(a.serial.bytes.data(), b.serial.bytes.data(), a.serial.length);
    assert_int_equal(a.validity.not_before, b.validity.not_before);
    assert_int_equal(a.validity.not_after, b.validity.not_after);
    assert_int_equal(a.issued_at, b.issued_at);
}

#define run_group(tests) cmocka_run_group_tests(tests, nullptr, nullptr)

// A test given a fresh Fixture in *state: made by its constructor before the
// test (CMocka reports a failed setup when its ready() says no), deleted
// after it.
#define unit_test_with(Fixture, test) \
    cmocka_unit_test_setup_teardown(test, set_up_fixture<Fixture>, tear_down_fixture<Fixture>)

template <class Fixture>
int set_up_fixture(void** state) {
    auto* fixture = new Fixture;
    *state = fixture;
    return fixture->ready() ? 0 : -1;
}

template <class Fixture>
int tear_down_fixture(void** state) {
    delete static_cast<Fixture*>(*state);
    return 0;
}

template <class Fixture>
Fixture& fixture_of(void** state) {
    return *static_cast<Fixture*>(*state);
}
