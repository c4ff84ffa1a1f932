// keyauth-sync's contact file (keyauth/replica_contact.hpp): the newer
// contact of it and LMDB's, and its revision only while LMDB is still at the
// state it was written of.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include "unit_test.hpp"

#include "keyauth/lmdb_registry.hpp"
#include "keyauth/replica_contact.hpp"

using keyauth::OpenMode;
using keyauth::RegistryLayout;
using keyauth::replica_progress;
using keyauth::ReplicaContact;
using keyauth_test::TempRegistry;

namespace {

// A commit of fleet.revision and fleet.contact, as keyauth-sync's commits of
// changes make; LMDB's generation after it.
std::uint64_t commit_progress(keyauth::LmdbRegistry& registry, const char* revision,
                              const char* contact) {
    {
        auto writer = registry.begin_write();
        assert_ok(writer);
        assert_ok((*writer)->put_meta("fleet.revision", revision));
        assert_ok((*writer)->put_meta("fleet.contact", contact));
        assert_ok((*writer)->commit());
    }
    auto summary = registry.summarize({});
    assert_ok(summary);
    assert_int_equal(summary->generation, registry.generation());
    return summary->generation;
}

// A replica's LMDB at revision 40 with contact 1000, committed at
// transaction `generation`.
struct Replica {
    TempRegistry temp;
    RegistryLayout layout{temp.path()};
    std::unique_ptr<keyauth::LmdbRegistry> registry = temp.open(OpenMode::read_write);
    std::uint64_t generation = commit_progress(*registry, "40", "1000");

    // What keytool status and keyauth-sync at start see.
    keyauth::ReplicaProgress progress() const {
        return replica_progress(layout, "40", "1000", generation);
    }
    // The file after etcd's revision 55 was found quiet, contact at 1030.
    void write_quiet(std::int64_t contact = 1030) const {
        assert_ok(keyauth::write_replica_contact(
            layout, ReplicaContact{contact, 55, 40, generation, false, "4242", "00ff"}));
    }
};

void without_a_file_lmdb_says_it_all(void**) {
    Replica replica;
    assert_int_equal(replica.progress().revision, 40);
    assert_int_equal(replica.progress().contact, 1000);
    const auto none = replica_progress(replica.layout, std::nullopt, std::nullopt, 0);
    assert_int_equal(none.revision, 0);
    assert_int_equal(none.contact, 0);
}

void the_file_written_group_readable_adds_contact_and_a_quiet_revision(void**) {
    Replica replica;
    // The registry directory's group, not the writer's: a monitoring user
    // of that group runs keytool status (as root here: any group will do).
    const gid_t group = getegid() + 4242;
    assert_int_equal(chown(replica.layout.dir.c_str(), static_cast<uid_t>(-1), group), 0);
    umask(0);
    replica.write_quiet();
    umask(077);
    replica.write_quiet();
    umask(022);
    struct stat st {};
    assert_int_equal(stat(replica.layout.fleet_contact().c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_gid, group);
    assert_int_not_equal(access(replica.layout.fleet_contact_staging().c_str(), F_OK), 0);
    assert_int_equal(replica.progress().revision, 55);
    assert_int_equal(replica.progress().contact, 1030);
    // A contact older than LMDB's (a change committed since) is not taken.
    replica.write_quiet(900);
    assert_int_equal(replica.progress().contact, 1000);
}

void a_commit_since_the_file_makes_lmdbs_revision_the_one(void**) {
    Replica replica;
    replica.write_quiet();
    // A commit that left fleet.revision as it was (a hold, deletes only).
    const std::uint64_t later = commit_progress(*replica.registry, "40", "1000");
    assert_int_equal(replica_progress(replica.layout, "40", "1000", later).revision, 40);
    assert_int_equal(replica_progress(replica.layout, "40", "1000", later).contact, 1030);
    // Another revision in LMDB at the file's generation (another registry).
    assert_int_equal(replica_progress(replica.layout, "41", "1000", replica.generation).revision,
                     41);
    // Not a replica: the file names no revision of its own.
    assert_int_equal(
        replica_progress(replica.layout, std::nullopt, std::nullopt, replica.generation).revision,
        0);
}

void a_damaged_file_is_no_file(void**) {
    Replica replica;
    const std::string numbers = "contact 1030\nrevision 55\nover 40\ngeneration " +
                                std::to_string(replica.generation) + "\n";
    const std::string good = numbers + "held 0\ncluster 4242\nfleet 00ff\n";
    const std::vector<std::string> damaged = {
        std::string(),
        good.substr(0, good.size() - 1),
        good.substr(0, 20),
        good + "x",
        std::string(good.size(), '\0'),
        "contact -5\nrevision 55\nover 40\ngeneration 1\n",
        "revision 55\ncontact 1030\nover 40\ngeneration 1\n",
        "contact 01030\nrevision 55\nover 40\ngeneration 1\n",
        "contact -0\nrevision 55\nover 40\ngeneration 1\n",
        numbers + "held 2\ncluster 4242\nfleet 00ff\n",
        numbers + "held 0\ncluster 42/42\nfleet 00ff\n",
        numbers + "held 0\ncluster 4242\nfleet 00FF\n",
        numbers + "held 0\ncluster 4242\n",
        numbers + "held 0\nfleet 00ff\ncluster 4242\n",
        numbers + "held 0\ncluster 4242\nfleet " + std::string(65, 'a') + "\n"};
    for (const std::string& text : damaged) {
        std::ofstream(replica.layout.fleet_contact(), std::ios::binary | std::ios::trunc) << text;
        assert_int_equal(replica.progress().revision, 40);
        assert_int_equal(replica.progress().contact, 1000);
    }
    std::ofstream(replica.layout.fleet_contact(), std::ios::binary | std::ios::trunc) << good;
    assert_int_equal(replica.progress().revision, 55);
    // An older keyauth-sync's four numbers: still true of LMDB's state (an
    // upgraded host resumes at its quiet revision, not a compacted one).
    std::ofstream(replica.layout.fleet_contact(), std::ios::binary | std::ios::trunc) << numbers;
    assert_int_equal(replica.progress().revision, 55);
    assert_int_equal(replica.progress().contact, 1030);
}

// Anything but keyauth-sync's own file is ignored, and said why: a link, no
// regular file, another owner's, one the group or others may write.
void a_file_not_as_written_is_refused_and_said(void**) {
    Replica replica;
    const std::string path = replica.layout.fleet_contact();
    replica.write_quiet();
    assert_true(replica.progress().contact_file_refused.empty());
    const auto refused = [&replica](const char* why) {
        const auto progress = replica.progress();
        assert_int_equal(progress.contact, 1000);
        assert_int_equal(progress.revision, 40);
        assert_non_null(strstr(progress.contact_file_refused.c_str(), why));
    };
    // A link to a file that is as written.
    const std::string real = replica.layout.dir + "/elsewhere";
    assert_int_equal(rename(path.c_str(), real.c_str()), 0);
    assert_int_equal(symlink(real.c_str(), path.c_str()), 0);
    refused("symbolic link");
    assert_int_equal(unlink(path.c_str()), 0);
    assert_int_equal(mkfifo(path.c_str(), 0600), 0);
    refused("not a regular file");
    assert_int_equal(unlink(path.c_str()), 0);
    replica.write_quiet();
    assert_int_equal(chmod(path.c_str(), 0660), 0);
    refused("writable by group or others");
    assert_int_equal(chmod(path.c_str(), 0642), 0);
    refused("writable by group or others");
    assert_int_equal(chmod(path.c_str(), 0640), 0);
    assert_int_equal(chown(path.c_str(), geteuid() + 4242, static_cast<gid_t>(-1)), 0);
    refused("not owned by the registry directory's owner");
    // Rewritten by keyauth-sync: believed again.
    replica.write_quiet();
    assert_true(replica.progress().contact_file_refused.empty());
    assert_int_equal(replica.progress().contact, 1030);
    // None at all is not refused: none written yet.
    assert_ok(keyauth::discard_replica_contact(replica.layout));
    assert_true(replica.progress().contact_file_refused.empty());
}

void a_staging_file_left_behind_is_replaced(void**) {
    Replica replica;
    std::ofstream(replica.layout.fleet_contact_staging()) << "left by a killed keyauth-sync";
    replica.write_quiet();
    assert_int_equal(replica.progress().contact, 1030);
    assert_int_not_equal(access(replica.layout.fleet_contact_staging().c_str(), F_OK), 0);
}

void a_discarded_file_leaves_lmdb_alone_to_say(void**) {
    Replica replica;
    replica.write_quiet();
    assert_ok(keyauth::discard_replica_contact(replica.layout));
    assert_int_equal(replica.progress().revision, 40);
    assert_int_equal(replica.progress().contact, 1000);
    assert_ok(keyauth::discard_replica_contact(replica.layout));  // none: nothing to do
}

// The owner's `keytool status`: LMDB's bookkeeping, the file's contact and
// quiet revision. (The registry's group's reads the file alone: tested as
// that user in fleet_quiet_replica_counter_stays_put and fleet_mass_delete_held.)
void the_owners_status_is_lmdbs_with_the_files_contact(void**) {
    Replica replica;
    {
        auto writer = replica.registry->begin_write();
        assert_ok(writer);
        assert_ok((*writer)->put_meta("fleet.cluster", "4242"));
        assert_ok((*writer)->put_meta("fleet.id", "00ff"));
        assert_ok((*writer)->put_meta("fleet.held", "a rebuild would lose 3 clients"));
        assert_ok((*writer)->commit());
    }
    replica.generation = replica.registry->generation();
    replica.write_quiet();
    replica.registry.reset();  // status takes writer.lock
    auto status = keyauth::read_replica_status(replica.layout);
    assert_ok(status);
    assert_false(status->recorded_only);
    assert_int_equal(status->progress.revision, 55);
    assert_int_equal(status->progress.contact, 1030);
    assert_true(status->held.has_value());
    assert_string_equal(status->held->c_str(), "a rebuild would lose 3 clients");
    assert_string_equal(status->cluster.c_str(), "4242");
    assert_string_equal(status->fleet_id.c_str(), "00ff");
}

void a_name_that_is_no_name_is_not_written(void**) {
    Replica replica;
    const ReplicaContact contact{1030, 55, 40, replica.generation, false, "42\n42", "00ff"};
    assert_int_equal(keyauth::write_replica_contact(replica.layout, contact).code(),
                     keyauth::Errc::invalid_argument);
    assert_int_not_equal(access(replica.layout.fleet_contact().c_str(), F_OK), 0);
    assert_int_not_equal(access(replica.layout.fleet_contact_staging().c_str(), F_OK), 0);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(without_a_file_lmdb_says_it_all),
        cmocka_unit_test(the_file_written_group_readable_adds_contact_and_a_quiet_revision),
        cmocka_unit_test(a_file_not_as_written_is_refused_and_said),
        cmocka_unit_test(a_commit_since_the_file_makes_lmdbs_revision_the_one),
        cmocka_unit_test(a_damaged_file_is_no_file),
        cmocka_unit_test(a_staging_file_left_behind_is_replaced),
        cmocka_unit_test(a_discarded_file_leaves_lmdb_alone_to_say),
        cmocka_unit_test(the_owners_status_is_lmdbs_with_the_files_contact),
        cmocka_unit_test(a_name_that_is_no_name_is_not_written),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
