// The Mosquitto plugin's reading of a broker-assigned client id.
#include "unit_test.hpp"

#include "client_ids.hpp"

using keyauth::mqtt::looks_broker_assigned;

namespace {

void the_brokers_own_form_is_recognised(void**) {
    assert_true(looks_broker_assigned("auto-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718"));
    // Another auto_id_prefix, or none: only the 36 characters count.
    assert_true(looks_broker_assigned("dev-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718"));
    assert_true(looks_broker_assigned("0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718"));
}

void anything_else_is_not(void**) {
    assert_false(looks_broker_assigned(""));
    assert_false(looks_broker_assigned("myapp01"));
    // Lowercase hex: not what the broker writes.
    assert_false(looks_broker_assigned("auto-0b8e3f2a-91c4-4d6e-a1b2-c3d4e5f60718"));
    // A dash moved, a digit missing, a letter beyond F.
    assert_false(looks_broker_assigned("auto-0B8E3F2A91-C4-4D6E-A1B2-C3D4E5F60718"));
    assert_false(looks_broker_assigned("auto-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F6071"));
    assert_false(looks_broker_assigned("auto-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F6071G"));
    // A prefix in a registered client's namespace (its id, ':', anything).
    assert_false(looks_broker_assigned("alice:0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718"));
    assert_false(looks_broker_assigned("a:b-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718"));
    // A trailing character after the form.
    assert_false(looks_broker_assigned("auto-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718x"));
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_brokers_own_form_is_recognised),
        cmocka_unit_test(anything_else_is_not),
    };
    return run_group(tests);
}
