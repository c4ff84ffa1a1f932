// A registry at a glance (keytool status): the clients counted by LMDB, not
// walked, and bookkeeping values, all of one committed state.
#include "unit_test.hpp"

#include "keyauth/lmdb_registry.hpp"

using keyauth::OpenMode;
using keyauth_test::make_credentials;
using keyauth_test::put_client;
using keyauth_test::TempRegistry;

namespace {

// Clients myapp01.., fleet.revision and an empty fleet.held in one
// transaction, committed or dropped.
void write_clients(keyauth::LmdbRegistry& registry, int clients, const char* revision,
                   bool commit) {
    auto writer = registry.begin_write();
    assert_ok(writer);
    for (int i = 1; i <= clients; ++i) {
        const auto tag = static_cast<std::uint8_t>(0x10 * i);
        assert_true(put_client(**writer, "myapp0" + std::to_string(i),
                               make_credentials(tag, 1000, 2000)));
    }
    assert_ok((*writer)->put_meta("fleet.revision", revision));
    assert_ok((*writer)->put_meta("fleet.held", ""));
    if (commit)
        assert_ok((*writer)->commit());
}

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
    write_clients(*registry, 3, "42", true);
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
    write_clients(*registry, 1, "7", false);  // rolled back when the writer dies
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
