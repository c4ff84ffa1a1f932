// The registry's on-disk record: exact round trips, refusal of anything else.
#include "unit_test.hpp"

#include <cstring>
#include <limits>

#include "keyauth/client_record.hpp"

using keyauth::ClientCredentials;
using keyauth::decode_credentials;
using keyauth::encode_credentials;
using keyauth::kEncodedCredentialsSize;
using keyauth_test::make_credentials;

namespace {

std::string encoded(const ClientCredentials& c) {
    const auto bytes = encode_credentials(c);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void assert_same(const ClientCredentials& a, const ClientCredentials& b) {
    assert_memory_equal(a.token_hash.bytes.data(), b.token_hash.bytes.data(), 32);
    assert_memory_equal(a.certificate_fingerprint.bytes.data(),
                        b.certificate_fingerprint.bytes.data(), 32);
    assert_int_equal(a.serial.length, b.serial.length);
    assert_memory_equal(a.serial.bytes.data(), b.serial.bytes.data(), 20);
    assert_int_equal(a.validity.not_before, b.validity.not_before);
    assert_int_equal(a.validity.not_after, b.validity.not_after);
    assert_int_equal(a.issued_at, b.issued_at);
    assert_int_equal(a.suspended, b.suspended);
    assert_memory_equal(a.previous.token_hash.bytes.data(), b.previous.token_hash.bytes.data(),
                        32);
    assert_memory_equal(a.previous.certificate_fingerprint.bytes.data(),
                        b.previous.certificate_fingerprint.bytes.data(), 32);
    assert_int_equal(a.previous.valid_until, b.previous.valid_until);
}

// A client rotated with a grace and suspended: every field of format 2 set.
ClientCredentials rotated_and_suspended() {
    ClientCredentials c = make_credentials(0x42, 1675561518, 1959558918);
    c.suspended = true;
    c.previous.token_hash.bytes.fill(0x5a);
    c.previous.certificate_fingerprint.bytes.fill(0xa5);
    c.previous.valid_until = 1700000000;
    return c;
}

// What keyauth 0.1 to 0.3 wrote: format 1, the first 110 bytes of format 2.
std::string format_1(const ClientCredentials& c) {
    std::string bytes = encoded(c).substr(0, keyauth::kFormat1CredentialsSize);
    bytes[0] = 1;
    return bytes;
}

void size_is_fixed(void**) {
    assert_int_equal(keyauth::kFormat1CredentialsSize, 1 + 32 + 32 + 1 + 20 + 24);
    assert_int_equal(kEncodedCredentialsSize, 110 + 1 + 32 + 32 + 8);
    assert_int_equal(kEncodedCredentialsSize, 183);
}

void round_trips_state_and_previous(void**) {
    const ClientCredentials original = rotated_and_suspended();
    ClientCredentials decoded;
    assert_true(decode_credentials(encoded(original), decoded));
    assert_same(original, decoded);
    assert_true(decoded.suspended);
    assert_true(decoded.previous.present());
}

void reads_format_1_as_live_without_previous(void**) {
    const ClientCredentials c = rotated_and_suspended();
    const std::string old = format_1(c);
    assert_int_equal(keyauth::credentials_format(old), 1);
    ClientCredentials decoded;
    assert_true(decode_credentials(old, decoded));
    ClientCredentials expected = c;
    expected.suspended = false;
    expected.previous = {};
    assert_same(expected, decoded);
    // Format 1's size with format 2's number, or the reverse: neither.
    std::string wrong = old;
    wrong[0] = 2;
    assert_false(decode_credentials(wrong, decoded));
    wrong = encoded(c);
    wrong[0] = 1;
    assert_false(decode_credentials(wrong, decoded));
}

void refuses_unknown_flags_and_stray_previous(void**) {
    ClientCredentials out;
    std::string bytes = encoded(make_credentials(1, 10, 20));
    for (int flag : {0x02, 0x04, 0x80}) {
        bytes[110] = static_cast<char>(flag);
        assert_false(decode_credentials(bytes, out));
    }
    bytes[110] = 1;
    assert_true(decode_credentials(bytes, out));
    assert_true(out.suspended);
    // A previous hash with no end, or an end before the epoch: damage.
    bytes = encoded(make_credentials(1, 10, 20));
    bytes[111] = 7;
    assert_false(decode_credentials(bytes, out));
    ClientCredentials c = rotated_and_suspended();
    c.previous.valid_until = -5;
    assert_false(decode_credentials(encoded(c), out));
}

void round_trips(void**) {
    const ClientCredentials original = make_credentials(0x42, 1675561518, 1959558918);
    ClientCredentials decoded;
    assert_true(decode_credentials(encoded(original), decoded));
    assert_same(original, decoded);
}

void round_trips_extreme_values(void**) {
    ClientCredentials c = make_credentials(0xff, std::numeric_limits<std::int64_t>::min(),
                                           std::numeric_limits<std::int64_t>::max());
    c.serial.length = 20;
    c.serial.bytes.fill(0xee);
    c.issued_at = -1;
    ClientCredentials decoded;
    assert_true(decode_credentials(encoded(c), decoded));
    assert_same(c, decoded);

    ClientCredentials one = make_credentials(0, 5, 5);  // a one-second window
    one.serial.length = 1;
    assert_true(decode_credentials(encoded(one), decoded));
    assert_same(one, decoded);
}

void layout_is_little_endian_format_2(void**) {
    ClientCredentials c = make_credentials(0x10, 0x0102030405060708, 0x1112131415161718);
    c.issued_at = 0x2122232425262728;
    const std::string bytes = encoded(c);
    assert_int_equal(static_cast<std::uint8_t>(bytes[0]), 2);
    assert_int_equal(static_cast<std::uint8_t>(bytes[1]), 0x10);
    assert_int_equal(static_cast<std::uint8_t>(bytes[33]), 0x11);
    assert_int_equal(static_cast<std::uint8_t>(bytes[65]), 16);
    assert_int_equal(static_cast<std::uint8_t>(bytes[86]), 0x08);
    assert_int_equal(static_cast<std::uint8_t>(bytes[93]), 0x01);
    assert_int_equal(static_cast<std::uint8_t>(bytes[94]), 0x18);
    assert_int_equal(static_cast<std::uint8_t>(bytes[102]), 0x28);
    assert_int_equal(static_cast<std::uint8_t>(bytes[109]), 0x21);
    assert_int_equal(static_cast<std::uint8_t>(bytes[110]), 0);  // flags
    const std::string with = encoded(rotated_and_suspended());
    assert_int_equal(static_cast<std::uint8_t>(with[110]), 1);
    assert_int_equal(static_cast<std::uint8_t>(with[111]), 0x5a);
    assert_int_equal(static_cast<std::uint8_t>(with[143]), 0xa5);
    assert_int_equal(static_cast<std::uint8_t>(with[175]), 1700000000 & 0xff);
}

void refuses_wrong_size(void**) {
    const std::string good = encoded(make_credentials(1, 10, 20));
    ClientCredentials out = make_credentials(9, 1, 2);
    assert_false(decode_credentials(good.substr(0, good.size() - 1), out));
    assert_false(decode_credentials(good + '\0', out));
    assert_false(decode_credentials("", out));
    assert_false(decode_credentials(good + good, out));
    // A refusal leaves the output untouched.
    assert_same(out, make_credentials(9, 1, 2));
}

void refuses_other_versions(void**) {
    std::string bytes = encoded(make_credentials(1, 10, 20));
    ClientCredentials out;
    for (int version : {0, 1, 3, 0x81, 0xff}) {
        bytes[0] = static_cast<char>(version);
        assert_false(decode_credentials(bytes, out));
    }
}

void refuses_bad_serial_length(void**) {
    std::string bytes = encoded(make_credentials(1, 10, 20));
    ClientCredentials out;
    bytes[65] = 0;
    assert_false(decode_credentials(bytes, out));
    bytes[65] = 21;
    assert_false(decode_credentials(bytes, out));
    bytes[65] = static_cast<char>(0xff);
    assert_false(decode_credentials(bytes, out));
    bytes[65] = 20;
    assert_true(decode_credentials(bytes, out));
    assert_int_equal(out.serial.length, 20);
    bytes[65] = 1;
    assert_true(decode_credentials(bytes, out));
    assert_int_equal(out.serial.length, 1);
}

void refuses_not_before_after_not_after(void**) {
    ClientCredentials out;
    assert_false(decode_credentials(encoded(make_credentials(1, 21, 20)), out));
    assert_false(
        decode_credentials(encoded(make_credentials(1, std::numeric_limits<std::int64_t>::max(),
                                                    std::numeric_limits<std::int64_t>::min())),
                           out));
    assert_true(decode_credentials(encoded(make_credentials(1, 20, 20)), out));
}

void hex_spellings(void**) {
    ClientCredentials c = make_credentials(0xab, 0, 1);
    std::string expected;
    for (int i = 0; i < 32; ++i)
        expected += "ac";
    assert_sv_equal(c.certificate_fingerprint.hex(), expected);
    c.serial.length = 3;
    c.serial.bytes[0] = 0x0f;
    c.serial.bytes[1] = 0xa0;
    c.serial.bytes[2] = 0x00;
    assert_sv_equal(c.serial.hex(), "0fa000");
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(size_is_fixed),
        cmocka_unit_test(round_trips),
        cmocka_unit_test(round_trips_extreme_values),
        cmocka_unit_test(layout_is_little_endian_format_2),
        cmocka_unit_test(round_trips_state_and_previous),
        cmocka_unit_test(reads_format_1_as_live_without_previous),
        cmocka_unit_test(refuses_unknown_flags_and_stray_previous),
        cmocka_unit_test(refuses_wrong_size),
        cmocka_unit_test(refuses_other_versions),
        cmocka_unit_test(refuses_bad_serial_length),
        cmocka_unit_test(refuses_not_before_after_not_after),
        cmocka_unit_test(hex_spellings),
    };
    return run_group(tests);
}
