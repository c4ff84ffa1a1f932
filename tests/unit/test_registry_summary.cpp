// A registry at a glance (keytool status): the clients counted by LMDB, not
// walked, and bookkeeping values, all of one committed state.
#include "unit_test.hpp"

#include "keyauth/lmdb_registry.hpp"

using keyauth::OpenMode;
using keyauth_test::make_credentials;
using keyauth_test::put_client;
using keyauth_test::TempRegistry;

namespace {

void a_new_registry_has_no_clients_and_no_bookkeeping(void**) {
    TempRegistry temp;
    auto registry = temp.open(OpenMode::read_write);
    auto summary = registry->summarize({"fleet.revision"});
    assert_ok(summary);
    assert_int_equal(summary->clients, 0);
    assert_int_equal(summary->meta.size(), 1);
    assert_false(summary->meta[0].has_value());
}

void a_summary_counts_clients_and_reads_values_in_the_order_asked(void**) {
    TempRegistry temp;
    auto registry = temp.open(OpenMode::read_write);
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_true(put_client(**writer, "myapp01", make_credentials(0x10, 1000, 2000)));
        assert_true(put_client(**writer, "myapp02", make_credentials(0x20, 1000, 2000)));
        assert_true(put_client(**writer, "myapp03", make_credentials(0x30, 1000, 2000)));
        assert_ok((*writer)->put_meta("fleet.revision", "42"));
        assert_ok((*writer)->put_meta("fleet.held", ""));
        assert_ok((*writer)->commit());
    }
    auto summary = registry->summarize({"fleet.held", "fleet.absent", "fleet.revision"});
    assert_ok(summary);
    assert_int_equal(summary->clients, 3);
    assert_int_equal(summary->meta.size(), 3);
    assert_true(summary->meta[0].has_value());
    assert_string_equal(summary->meta[0]->c_str(), "");
    assert_false(summary->meta[1].has_value());
    assert_string_equal(summary->meta[2]->c_str(), "42");
    assert_int_equal(*registry->count(), 3);
}

void a_summary_sees_only_committed_changes(void**) {
    TempRegistry temp;
    auto registry = temp.open(OpenMode::read_write);
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_true(put_client(**writer, "myapp01", make_credentials(0x10, 1000, 2000)));
        assert_ok((*writer)->put_meta("fleet.revision", "7"));
        // Never committed: rolled back when the writer dies.
    }
    auto summary = registry->summarize({"fleet.revision"});
    assert_ok(summary);
    assert_int_equal(summary->clients, 0);
    assert_false(summary->meta[0].has_value());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_new_registry_has_no_clients_and_no_bookkeeping),
        cmocka_unit_test(a_summary_counts_clients_and_reads_values_in_the_order_asked),
        cmocka_unit_test(a_summary_sees_only_committed_changes),
    };
    return run_group(tests);
}
