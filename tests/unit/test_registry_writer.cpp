// keytool's side of the registry (LmdbRegistry and its RegistryWriter): one
// writer at a time, commits that reach the servers' index, files made with
// exact modes, and LMDB changed behind the writer's back.
#include "registry_test.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "keyauth/registry_layout.hpp"
#include "keyauth/writer_lock.hpp"

using keyauth::ClientRecord;

namespace {

void put_then_find_in_the_same_transaction_and_after_commit(void**) {
    TempRegistry temp;
    auto registry = temp.open(OpenMode::read_write);
    assert_non_null(registry.get());
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_ok((*writer)->put(ClientRecord{"myapp01", kFirst}, false));
        ClientCredentials found;
        assert_ok((*writer)->find("myapp01", found));
        assert_same_credentials(found, kFirst);
        assert_ok((*writer)->commit());
    }
    ClientCredentials found;
    assert_ok(registry->find("myapp01", found));
    assert_same_credentials(found, kFirst);
    assert_code(registry->find("myapp02", found), Errc::unknown_client);
}

void uncommitted_writes_are_rolled_back(void**) {
    TempRegistry temp;
    auto registry = temp.open(OpenMode::read_write);
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_ok((*writer)->put(ClientRecord{"myapp01", kFirst}, false));
    }
    ClientCredentials found;
    assert_code(registry->find("myapp01", found), Errc::unknown_client);
    assert_int_equal(registry->list()->size(), 0);
}

void erase_removes_client_and_fingerprint(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "a", kFirst) && put_client(w, "b", kSecond);
    }));
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) { return w.erase("a").ok(); }));
    auto registry = temp.open_reader();
    ClientCredentials found;
    std::string id;
    assert_code(registry->find("a", found), Errc::unknown_client);
    assert_code(registry->find_by_fingerprint(kFirst.certificate_fingerprint, id, found),
                Errc::unknown_client);
    assert_ok(registry->find("b", found));
    assert_int_equal(registry->list()->size(), 1);
}

void erase_of_unknown_client_is_refused(void**) {
    TempRegistry temp;
    auto registry = temp.open(OpenMode::read_write);
    auto writer = registry->begin_write();
    const keyauth::Status status = (*writer)->erase("ghost");
    assert_code(status, Errc::unknown_client);
    assert_sv_equal(status.error().message, "no client ghost");
}

// An id no registry may hold (the empty one LMDB itself refuses with
// MDB_BAD_VALSIZE) is answered as absent, never asked of LMDB.
void invalid_ids_are_unknown_not_errors(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    auto registry = temp.open(OpenMode::read_write);
    ClientCredentials found;
    for (const std::string& id : {std::string(), std::string("a\nb"), std::string(600, 'x')}) {
        assert_code(registry->find(id, found), Errc::unknown_client);
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_code((*writer)->find(id, found), Errc::unknown_client);
        assert_code((*writer)->erase(id), Errc::unknown_client);
        assert_ok((*writer)->commit());
    }
    assert_ok(registry->find("myapp01", found));
}

// A certificate admits one client: a put of another client's certificate is
// refused before anything is written, and the transaction goes on.
void a_certificate_another_client_holds_is_refused_writing_nothing(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "alice", kFirst) && put_client(w, "bob", kSecond);
    }));
    auto registry = temp.open(OpenMode::read_write);
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        auto owner = (*writer)->fingerprint_owner(kFirst.certificate_fingerprint);
        assert_ok(owner);
        assert_sv_equal(owner->value_or(""), "alice");
        assert_false((*writer)->fingerprint_owner(kThird.certificate_fingerprint)->has_value());
        // New, and replacing bob's: both refused, nothing of them written.
        const keyauth::Status carol = (*writer)->put(ClientRecord{"carol", kFirst}, true);
        assert_code(carol, Errc::already_exists);
        assert_sv_equal(carol.error().message, "the certificate of carol is alice's");
        assert_code((*writer)->put(ClientRecord{"bob", kFirst}, true), Errc::already_exists);
        // alice's own again (a suspend, say) is hers.
        assert_ok((*writer)->put(ClientRecord{"alice", kFirst}, true));
        assert_ok((*writer)->put(ClientRecord{"dave", kThird}, false));
        assert_ok((*writer)->commit());
    }
    ClientCredentials found;
    std::string id;
    assert_code(registry->find("carol", found), Errc::unknown_client);
    assert_ok(registry->find("bob", found));
    assert_same_credentials(found, kSecond);
    assert_ok(registry->find_by_fingerprint(kSecond.certificate_fingerprint, id, found));
    assert_sv_equal(id, "bob");
    assert_ok(registry->find_by_fingerprint(kFirst.certificate_fingerprint, id, found));
    assert_sv_equal(id, "alice");
    assert_int_equal(registry->list()->size(), 3);
}

void duplicate_is_refused_without_replace(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    auto registry = temp.open(OpenMode::read_write);
    {
        auto writer = registry->begin_write();
        const keyauth::Status status = (*writer)->put(ClientRecord{"myapp01", kSecond}, false);
        assert_code(status, Errc::already_exists);
        assert_sv_equal(status.error().message, "client myapp01 already exists");
        assert_ok((*writer)->commit());
    }
    ClientCredentials found;
    assert_ok(registry->find("myapp01", found));
    assert_same_credentials(found, kFirst);
    std::string id;
    assert_code(registry->find_by_fingerprint(kSecond.certificate_fingerprint, id, found),
                Errc::unknown_client);
}

void replace_drops_the_old_fingerprint(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    assert_true(write_registry(
        temp.path(), [](RegistryWriter& w) { return put_client(w, "myapp01", kSecond, true); }));
    auto registry = temp.open_reader();
    ClientCredentials found;
    std::string id;
    assert_code(registry->find_by_fingerprint(kFirst.certificate_fingerprint, id, found),
                Errc::unknown_client);
    assert_ok(registry->find_by_fingerprint(kSecond.certificate_fingerprint, id, found));
    assert_sv_equal(id, "myapp01");
    assert_same_credentials(found, kSecond);
    assert_ok(registry->find("myapp01", found));
    assert_same_credentials(found, kSecond);
}

void put_refuses_invalid_ids(void**) {
    TempRegistry temp;
    auto registry = temp.open(OpenMode::read_write);
    auto writer = registry->begin_write();
    for (const std::string& id : std::vector<std::string>{
             "", "a/b", ".x", "a..b", std::string(65, 'a'), std::string("a\0b", 3)}) {
        assert_code((*writer)->put(ClientRecord{id, kFirst}, false), Errc::invalid_argument);
    }
}

void create_open_makes_files_with_exact_modes_under_umask(void**) {
    TempDir dir;
    const mode_t old = umask(0);
    auto opened = LmdbRegistry::open(dir.path(), OpenMode::create);
    umask(old);
    assert_ok(opened);
    struct stat st {};
    assert_int_equal(stat((dir / "data.mdb").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(stat((dir / "commit.seq").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(stat((dir / "writer.lock").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    // LMDB's lock file is gone: nobody takes LMDB's locks any more.
    assert_int_equal(stat((dir / "lock.mdb").c_str(), &st), -1);
}

void read_write_open_of_an_empty_directory_creates_nothing(void**) {
    TempDir dir;
    auto opened = LmdbRegistry::open(dir.path(), OpenMode::read_write);
    assert_false(opened.ok());
    assert_int_equal(static_cast<int>(opened.error().code), static_cast<int>(Errc::not_found));
    assert_sv_equal(opened.error().message,
                    "registry " + dir.path() + " has no data.mdb (run keytool init)");
    DIR* listing = opendir(dir.path().c_str());
    int entries = 0;
    while (readdir(listing) != nullptr)
        ++entries;
    closedir(listing);
    assert_int_equal(entries, 2);  // . and ..
}

void writers_take_turns(void**) {
    TempRegistry temp;
    int start[2];
    int ready[2];
    assert_int_equal(pipe(start), 0);
    assert_int_equal(pipe(ready), 0);
    const pid_t child = hold_write_in_child(temp.path(), "first", {start[0], ready[1], -1});
    auto registry = temp.open(OpenMode::read_write);
    assert_non_null(registry.get());
    char byte = 's';
    assert_int_equal(write(start[1], &byte, 1), 1);
    assert_int_equal(read(ready[0], &byte, 1), 1);
    // The child holds the write transaction and commits about 300 ms from now.
    const auto begun = std::chrono::steady_clock::now();
    auto writer = registry->begin_write();
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - begun)
                            .count();
    assert_ok(writer);
    assert_in_range(millis, 150, 5000);
    // And it starts from the child's commit.
    ClientCredentials found;
    assert_ok((*writer)->find("first", found));
    assert_int_equal(exit_code_of(child), 0);
    for (int fd : {start[0], start[1], ready[0], ready[1]})
        close(fd);
}

void a_writer_that_cannot_get_the_lock_gives_up_naming_the_cause(void**) {
    TempRegistry temp;
    // Another writer (here: a bare lock holder) keeps writer.lock.
    const int fd = open((temp.path() + "/writer.lock").c_str(), O_RDWR);
    assert_true(fd >= 0);
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    assert_int_equal(fcntl(fd, F_OFD_SETLK, &lock), 0);
    auto registry = temp.open(OpenMode::read_write);
    assert_null(registry.get());  // opening a writer takes the lock too
    auto opened = LmdbRegistry::open(temp.path(), OpenMode::read_write);
    assert_false(opened.ok());
    assert_non_null(strstr(opened.error().message.c_str(), "registry is busy: another writer"));
    assert_code(opened.status(), Errc::busy);  // a value keyauth-sync tries again on
    // Readers do not care.
    auto reader = temp.open_reader();
    assert_non_null(reader.get());
    ClientCredentials found;
    assert_code(reader->find("nobody", found), Errc::unknown_client);
    close(fd);
    assert_non_null(temp.open(OpenMode::read_write).get());
}

// Writes bytes straight into one of the registry's LMDB tables, bypassing
// the core: how a corrupt or hostile registry is made.
bool raw_put(const std::string& dir, const char* table, std::string_view key,
             std::string_view value) {
    MDB_env* env = nullptr;
    if (mdb_env_create(&env) != 0)
        return false;
    mdb_env_set_maxdbs(env, 2);
    MDB_txn* txn = nullptr;
    MDB_dbi dbi = 0;
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    const bool ok = mdb_env_open(env, dir.c_str(), MDB_NOLOCK, 0660) == 0 &&
                    mdb_txn_begin(env, nullptr, 0, &txn) == 0 &&
                    mdb_dbi_open(txn, table, 0, &dbi) == 0 && mdb_put(txn, dbi, &k, &v, 0) == 0 &&
                    mdb_txn_commit(txn) == 0;
    if (!ok && txn != nullptr)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return ok;
}

// The number of entries in one of the registry's LMDB tables, or -1.
long raw_count(const std::string& dir, const char* table) {
    MDB_env* env = nullptr;
    if (mdb_env_create(&env) != 0)
        return -1;
    mdb_env_set_maxdbs(env, 2);
    MDB_txn* txn = nullptr;
    MDB_dbi dbi = 0;
    MDB_stat stat{};
    long count = -1;
    if (mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOLOCK, 0660) == 0 &&
        mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0 &&
        mdb_dbi_open(txn, table, 0, &dbi) == 0 && mdb_stat(txn, dbi, &stat) == 0) {
        count = static_cast<long>(stat.ms_entries);
    }
    if (txn != nullptr)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return count;
}

void index_holds_exactly_the_live_fingerprints(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "a", kFirst) && put_client(w, "b", kSecond);
    }));
    assert_int_equal(raw_count(temp.path(), "clients"), 2);
    assert_int_equal(raw_count(temp.path(), "fingerprints"), 2);
    // Replacing a's certificate drops its old fingerprint from the index.
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "a", make_credentials(0x70, 1, 2), true);
    }));
    assert_int_equal(raw_count(temp.path(), "clients"), 2);
    assert_int_equal(raw_count(temp.path(), "fingerprints"), 2);
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) { return w.erase("b").ok(); }));
    assert_int_equal(raw_count(temp.path(), "clients"), 1);
    assert_int_equal(raw_count(temp.path(), "fingerprints"), 1);
}

void meta_is_committed_with_the_clients_or_not_at_all(void**) {
    TempRegistry temp;
    auto registry = temp.open(OpenMode::read_write);
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_true(put_client(**writer, "a", kFirst));
        assert_ok((*writer)->put_meta("revision", "41"));
        // Dropped uncommitted: neither the client nor the revision.
    }
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        auto revision = (*writer)->find_meta("revision");
        assert_ok(revision);
        assert_false(revision->has_value());
        ClientCredentials found;
        assert_code((*writer)->find("a", found), Errc::unknown_client);
        assert_true(put_client(**writer, "a", kFirst) && put_client(**writer, "b", kSecond));
        assert_ok((*writer)->put_meta("revision", "42"));
        assert_ok((*writer)->commit());
    }
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        auto revision = (*writer)->find_meta("revision");
        assert_ok(revision);
        assert_sv_equal(**revision, "42");
        assert_ok((*writer)->erase_all());
        assert_ok((*writer)->put_meta("revision", "50"));
        assert_ok((*writer)->commit());
    }
    auto reader = temp.open_reader();
    ClientCredentials found;
    std::string owner;
    assert_code(reader->find("a", found), Errc::unknown_client);
    assert_code(reader->find_by_fingerprint(kSecond.certificate_fingerprint, owner, found),
                Errc::unknown_client);
    assert_int_equal(raw_count(temp.path(), "fingerprints"), 0);
}

// A load (erase_all, then every record, as keyauth-sync commits one):
// ids after the last are appended, one out of order put the ordinary way,
// and after the commit, which opens a new LMDB environment to free the
// load's pages, the same registry reads and writes on, the servers see it
// all, and the tables hold each client once.
void a_load_in_and_out_of_id_order_reads_and_writes_on_after_its_commit(void**) {
    TempRegistry temp;
    auto registry = temp.open(OpenMode::read_write);
    const ClientCredentials fourth = make_credentials(0x50, 5000, 6000);
    const ClientCredentials fifth = make_credentials(0x60, 5000, 6000);
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_true(put_client(**writer, "old", kFirst));
        assert_ok((*writer)->commit());
    }
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_ok((*writer)->erase_all());
        assert_true(put_client(**writer, "c", kFirst) && put_client(**writer, "d", kSecond) &&
                    put_client(**writer, "a", kThird) && put_client(**writer, "e", fourth));
        assert_code((*writer)->put(keyauth::ClientRecord{"e", fifth}, false), Errc::already_exists);
        assert_code((*writer)->put(keyauth::ClientRecord{"a", fifth}, false), Errc::already_exists);
        assert_ok((*writer)->put_meta("revision", "7"));
        assert_ok((*writer)->commit());
    }
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        ClientCredentials found;
        assert_ok((*writer)->find("a", found));
        assert_same_credentials(found, kThird);
        assert_code((*writer)->find("old", found), Errc::unknown_client);
        auto revision = (*writer)->find_meta("revision");
        assert_ok(revision);
        assert_sv_equal(**revision, "7");
        assert_true(put_client(**writer, "b", fifth));
        assert_ok((*writer)->commit());
    }
    auto count = registry->count();
    assert_ok(count);
    assert_int_equal(*count, 5);
    assert_int_equal(raw_count(temp.path(), "clients"), 5);
    assert_int_equal(raw_count(temp.path(), "fingerprints"), 5);
    auto reader = temp.open_reader();
    const std::pair<const char*, const ClientCredentials*> expected[] = {
        {"a", &kThird}, {"b", &fifth}, {"c", &kFirst}, {"d", &kSecond}, {"e", &fourth}};
    for (const auto& [id, credentials] : expected) {
        ClientCredentials found;
        assert_ok(reader->find(id, found));
        assert_same_credentials(found, *credentials);
        std::string owner;
        assert_ok(reader->find_by_fingerprint(credentials->certificate_fingerprint, owner, found));
        assert_string_equal(owner.c_str(), id);
    }
    ClientCredentials found;
    assert_code(reader->find("old", found), Errc::unknown_client);
}

// keyauth-sync's load and rebuild (a registry no server reads yet): the
// fill commits in parts, lookup.idx is left as it was until finish_fill()
// fills it once; after it, commits publish as ever.
void a_fill_commits_in_parts_and_publishes_once_at_its_end(void**) {
    TempRegistry temp;
    auto registry = temp.open(OpenMode::read_write);
    const ClientCredentials fourth = make_credentials(0x50, 5000, 6000);
    const ClientCredentials fifth = make_credentials(0x60, 5000, 6000);
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_true(put_client(**writer, "old", kFirst));
        assert_ok((*writer)->commit());
    }
    auto reader = temp.open_reader();
    registry->begin_fill();
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_ok((*writer)->erase_all());
        assert_true(put_client(**writer, "a", kFirst) && put_client(**writer, "c", kSecond));
        assert_ok((*writer)->commit());
    }
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_true(put_client(**writer, "d", kThird) && put_client(**writer, "b", fourth));
        assert_ok((*writer)->commit());
    }
    ClientCredentials found;
    const auto served = [&] {
        auto count = reader->count();
        assert_ok(count);
        return *count;
    };
    assert_int_equal(served(), 1);
    assert_ok(reader->find("old", found));
    auto committed = registry->count();
    assert_ok(committed);
    assert_int_equal(*committed, 4);

    assert_ok(registry->finish_fill());
    assert_int_equal(served(), 4);
    assert_code(reader->find("old", found), Errc::unknown_client);
    const std::pair<const char*, const ClientCredentials*> expected[] = {
        {"a", &kFirst}, {"b", &fourth}, {"c", &kSecond}, {"d", &kThird}};
    for (const auto& [id, credentials] : expected) {
        assert_ok(reader->find(id, found));
        assert_same_credentials(found, *credentials);
        std::string owner;
        assert_ok(reader->find_by_fingerprint(credentials->certificate_fingerprint, owner, found));
        assert_string_equal(owner.c_str(), id);
    }
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_true(put_client(**writer, "e", fifth));
        assert_ok((*writer)->commit());
    }
    assert_int_equal(served(), 5);
    assert_int_equal(raw_count(temp.path(), "fingerprints"), 5);
}

std::string bytes_of(const keyauth::Fingerprint& f) {
    return std::string(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
}

// LMDB changed behind keytool's back (raw_put does not keep lookup.idx in
// step): the next writer rebuilds the index from LMDB and refuses a corrupt
// record; the servers keep answering from the last published state.
void corrupt_record_stops_the_writer_not_the_servers(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    auto reader = temp.open_reader();
    ClientCredentials found;
    assert_ok(reader->find("myapp01", found));
    assert_true(raw_put(temp.path(), "clients", "broken", "short"));
    auto writer = LmdbRegistry::open(temp.path(), OpenMode::read_write);
    assert_false(writer.ok());
    assert_int_equal(static_cast<int>(writer.error().code),
                     static_cast<int>(Errc::registry_corrupt));
    assert_sv_equal(writer.error().message, "registry record is corrupt");
    assert_ok(reader->find("myapp01", found));
    assert_code(reader->find("broken", found), Errc::unknown_client);
}

void stale_fingerprint_index_entry_is_refused(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    // An index entry for another certificate naming myapp01.
    assert_true(
        raw_put(temp.path(), "fingerprints", bytes_of(fingerprint_filled(0x99)), "myapp01"));
    std::unique_ptr<keyauth::LocalRegistry> stores[] = {temp.open(OpenMode::read_write),
                                                        temp.open_reader()};
    for (auto& registry : stores) {
        assert_non_null(registry.get());
        ClientCredentials found;
        std::string id = "untouched";
        assert_code(registry->find_by_fingerprint(fingerprint_filled(0x99), id, found),
                    Errc::unknown_client);
        assert_sv_equal(id, "untouched");
        assert_ok(registry->find_by_fingerprint(kFirst.certificate_fingerprint, id, found));
    }
}

// keytool reads LMDB itself: an index entry naming no valid id is corrupt.
// An index entry naming a client whose record holds another certificate
// is stale: it names nobody, and a put of that certificate replaces it.
void a_stale_fingerprint_entry_yields_to_a_put(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    assert_true(
        raw_put(temp.path(), "fingerprints", bytes_of(kSecond.certificate_fingerprint), "myapp01"));
    auto registry = temp.open(OpenMode::read_write);
    {
        auto writer = registry->begin_write();
        assert_ok(writer);
        assert_false((*writer)->fingerprint_owner(kSecond.certificate_fingerprint)->has_value());
        assert_ok((*writer)->put(ClientRecord{"myapp02", kSecond}, false));
        assert_ok((*writer)->commit());
    }
    ClientCredentials found;
    std::string id;
    assert_ok(registry->find_by_fingerprint(kSecond.certificate_fingerprint, id, found));
    assert_sv_equal(id, "myapp02");
}

void fingerprint_index_naming_an_invalid_id_is_corrupt(void**) {
    TempRegistry temp;
    assert_true(raw_put(temp.path(), "fingerprints", bytes_of(fingerprint_filled(0x99)), "../x"));
    assert_true(raw_put(temp.path(), "fingerprints", bytes_of(fingerprint_filled(0x98)),
                        std::string(65, 'a')));
    auto registry = temp.open(OpenMode::read_write);
    ClientCredentials found;
    std::string id;
    assert_code(registry->find_by_fingerprint(fingerprint_filled(0x99), id, found),
                Errc::registry_corrupt);
    assert_code(registry->find_by_fingerprint(fingerprint_filled(0x98), id, found),
                Errc::registry_corrupt);
}

// Deletes straight in LMDB, bypassing the core (and so lookup.idx).
bool raw_delete(const std::string& dir, const char* table, std::string_view key) {
    MDB_env* env = nullptr;
    if (mdb_env_create(&env) != 0)
        return false;
    mdb_env_set_maxdbs(env, 3);
    MDB_txn* txn = nullptr;
    MDB_dbi dbi = 0;
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    const bool ok = mdb_env_open(env, dir.c_str(), MDB_NOLOCK, 0660) == 0 &&
                    mdb_txn_begin(env, nullptr, 0, &txn) == 0 &&
                    mdb_dbi_open(txn, table, 0, &dbi) == 0 && mdb_del(txn, dbi, &k, nullptr) == 0 &&
                    mdb_txn_commit(txn) == 0;
    if (!ok && txn != nullptr)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return ok;
}

// A load's commit opens LMDB anew to free the load's pages. When that
// fails (data.mdb moved aside meanwhile: the new environment finds no
// tables), the load stands, the environment it wrote serves on, and one
// line on stderr says so.
void a_failed_reopen_after_a_load_is_said_once_and_the_load_stands(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "old", kFirst); }));
    int said[2];
    assert_int_equal(pipe(said), 0);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(said[1], STDERR_FILENO);
        setenv("KEYAUTH_TEST_STOP_AT", "before-environment-reopened", 1);
        const bool loaded = write_registry(temp.path(), [](RegistryWriter& w) {
            return w.erase_all().ok() && put_client(w, "new", kSecond);
        });
        _exit(loaded ? 0 : 1);
    }
    close(said[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
    assert_true(WIFSTOPPED(status));
    const std::string data = temp.path() + "/data.mdb";
    assert_int_equal(rename(data.c_str(), (data + ".aside").c_str()), 0);
    assert_int_equal(kill(pid, SIGCONT), 0);
    assert_int_equal(exit_code_of(pid), 0);
    assert_int_equal(rename((data + ".aside").c_str(), data.c_str()), 0);
    std::string stderr_text;
    char buffer[4096];
    for (ssize_t got; (got = read(said[0], buffer, sizeof buffer)) > 0;)
        stderr_text.append(buffer, static_cast<std::size_t>(got));
    close(said[0]);
    if (stderr_text.find(": the load is committed, but LMDB could not be opened anew after it (") ==
            std::string::npos ||
        std::count(stderr_text.begin(), stderr_text.end(), '\n') != 1)
        fail_msg("stderr: [%s]", stderr_text.c_str());
    auto reader = temp.open_reader();
    ClientCredentials found;
    assert_ok(reader->find("new", found));
    assert_same_credentials(found, kSecond);
    assert_code(reader->find("old", found), Errc::unknown_client);
}

// Writer A opened the registry; writer B then grew the index (a new
// lookup.idx, the old one retired). A's delete must reach the servers, not
// the retired file A had mapped.
void a_delete_after_another_writer_grew_the_index_reaches_the_servers(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "victim", kFirst); }));
    auto writer_a = temp.open(OpenMode::read_write);
    assert_non_null(writer_a.get());
    assert_true(write_registry_in_child(temp.path(), [](RegistryWriter& w) {
        for (int i = 0; i < 1000; ++i) {
            ClientCredentials filler = make_credentials(0x30, i, i + 1);
            std::memcpy(filler.certificate_fingerprint.bytes.data(), &i, sizeof i);
            if (!put_client(w, "filler" + std::to_string(i), filler))
                return false;
        }
        return true;
    }));
    auto writer = writer_a->begin_write();
    assert_ok(writer);
    assert_ok((*writer)->erase("victim"));
    assert_ok((*writer)->commit());
    auto reader = temp.open_reader();
    ClientCredentials found;
    assert_code(reader->find("victim", found), Errc::unknown_client);
    assert_ok(reader->find("filler999", found));
}

// LMDB ahead of the published index (a power loss that kept LMDB's commit
// but not the index's; a writer that died before publishing): readers keep
// the published state, and the next writer publishes LMDB's.
void a_change_behind_the_index_is_published_by_the_next_writer(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "victim", kFirst) && put_client(w, "other", kSecond);
    }));
    auto reader = temp.open_reader();
    ClientCredentials found;
    assert_ok(reader->find("victim", found));
    assert_true(raw_delete(temp.path(), "clients", "victim"));
    assert_ok(reader->find("victim", found));
    assert_true(write_registry_in_child(temp.path(), [](RegistryWriter&) { return true; }));
    assert_code(reader->find("victim", found), Errc::unknown_client);
    assert_ok(reader->find("other", found));
}

// keytool list as the owner (open_registry_to_read) walks lookup.idx, but
// only after the opening has published what LMDB holds beyond it (a writer
// killed between its commit and its publication): it lists what `keytool
// show` reads, never an older state.
void the_owners_walk_lists_a_change_behind_the_index(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "victim", kFirst) && put_client(w, "other", kSecond);
    }));
    assert_true(raw_delete(temp.path(), "clients", "victim"));
    bool all_published = false;
    auto walked = keyauth::open_registry_to_read(temp.path(), all_published);
    assert_ok(walked);
    assert_true(all_published);
    auto listed = (*walked)->list();
    assert_ok(listed);
    assert_int_equal(listed->size(), 1);
    assert_string_equal((*listed)[0].id.c_str(), "other");
}

// Review 3, L-1: another writer holding writer.lock (a keytool stopped by
// Ctrl-Z) made the owner's list fail after its wait. It lists what the
// servers enforce instead, and says so, without the writers' 5 s wait
// (OpenMode::to_publish): no read waits on a writer.
void the_owners_walk_beside_a_busy_writer_lists_what_is_published(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "victim", kFirst) && put_client(w, "other", kSecond);
    }));
    assert_true(raw_delete(temp.path(), "clients", "victim"));  // committed, not published
    auto held = keyauth::WriterLock::acquire(temp.path() + "/writer.lock",
                                             keyauth::WriterLock::Scope::writes, 0);
    assert_ok(held);
    bool all_published = true;
    const auto started = std::chrono::steady_clock::now();
    auto walked = keyauth::open_registry_to_read(temp.path(), all_published);
    assert_true(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
    assert_ok(walked);
    assert_false(all_published);
    auto listed = (*walked)->list();
    assert_ok(listed);
    assert_int_equal(listed->size(), 2);
}

// Nor does it hold writer.lock (nor LMDB) while it visits, i.e. while
// keytool writes the rows to a pager nobody reads: a writer gets the lock
// at once and commits, and the walk lists the state it began with.
void the_owners_walk_holds_up_no_writer_while_it_visits(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "first", kFirst) && put_client(w, "second", kSecond);
    }));
    bool all_published = false;
    auto walked = keyauth::open_registry_to_read(temp.path(), all_published);
    assert_ok(walked);
    std::vector<std::string> visited;
    assert_ok((*walked)->scan(
        false, [&] { visited.clear(); },
        [&](std::string_view id, const ClientCredentials&) {
            if (visited.empty()) {
                assert_ok(keyauth::WriterLock::acquire(temp.path() + "/writer.lock",
                                                       keyauth::WriterLock::Scope::writes, 0));
                assert_true(write_registry_in_child(
                    temp.path(), [](RegistryWriter& w) { return put_client(w, "third", kThird); }));
            }
            visited.emplace_back(id);
            return true;
        }));
    assert_int_equal(visited.size(), 2);
    auto again = keyauth::open_registry_to_read(temp.path(), all_published);
    assert_ok(again);
    auto listed = (*again)->list();
    assert_ok(listed);
    assert_int_equal(listed->size(), 3);
}

// A new index file a writer made and died before renaming in (a growth
// killed before its commit) is removed by the next writer, not kept until
// the next growth.
void a_dead_writers_new_index_file_is_removed(void**) {
    TempRegistry temp;
    const std::string staged = temp.path() + "/lookup.idx.new";
    const int fd = open(staged.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    assert_int_equal(access(staged.c_str(), F_OK), -1);
}

ino_t index_inode(const std::string& dir) {
    struct stat st {};
    assert_int_equal(stat((dir + "/lookup.idx").c_str(), &st), 0);
    return st.st_ino;
}

// Records are appended, never rewritten: a commit whose changes might not
// fit the heap's room moves the index to a new file (compacted), and a
// reader on the old one follows it.
void a_full_heap_moves_the_index_to_a_new_file_readers_follow(void**) {
    TempRegistry temp;
    // 5 000 clients in one commit: a new file, its heap 1 MiB past them.
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_numbered(w, 0, 5000, 0x30); }));
    auto reader = temp.open_reader();
    ClientCredentials found;
    assert_ok(reader->find("client1", found));
    const ino_t first = index_inode(temp.path());
    // 2 000 records changed (~128 bytes each): room for them.
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_numbered(w, 0, 2000, 0x50); }));
    assert_int_equal(index_inode(temp.path()), first);
    assert_ok(reader->find("client1", found));
    assert_int_equal(found.token_hash.bytes[0], 0x50);
    // 2 000 more: this copy takes both commits' 4 000 changes, which at
    // their largest (a 64-byte id, a grace) would not fit what is left.
    assert_true(write_registry(
        temp.path(), [](RegistryWriter& w) { return put_numbered(w, 2000, 4000, 0x60); }));
    assert_int_not_equal(index_inode(temp.path()), first);
    assert_ok(reader->find("client2001", found));
    assert_int_equal(found.token_hash.bytes[0], 0x60);
    assert_ok(reader->find("client1", found));
    assert_int_equal(found.token_hash.bytes[0], 0x50);
    std::string id;
    assert_ok(reader->find_by_fingerprint(numbered(4500, 0x30).certificate_fingerprint, id, found));
    assert_sv_equal(id, "client4500");
    auto count = reader->count();
    assert_ok(count);
    assert_int_equal(*count, 5000);
}

// 870 clients fit a first index, the 871st makes a new file.
void a_table_past_its_load_limit_moves_the_index_to_a_new_file(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_numbered(w, 0, 1, 0x30); }));
    const ino_t first = index_inode(temp.path());
    assert_true(fill_first_index(temp));
    assert_int_equal(index_inode(temp.path()), first);
    auto reader = temp.open_reader();
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_numbered(w, 870, 871, 0x30); }));
    assert_int_not_equal(index_inode(temp.path()), first);
    ClientCredentials found;
    assert_ok(reader->find("client870", found));
    assert_ok(reader->find("client0", found));
    auto count = reader->count();
    assert_ok(count);
    assert_int_equal(*count, 871);
}

// A rotation's grace is kept out of line of the records without one; both
// read back whole, by id and by certificate.
void a_record_with_a_pending_grace_reads_back_whole(void**) {
    ClientCredentials rotated = make_credentials(0x70, 1000, 2000);
    rotated.serial.length = 20;
    rotated.serial.bytes.fill(0xab);
    rotated.issued_at = 999;
    rotated.suspended = true;
    rotated.previous.token_hash.bytes.fill(0x71);
    rotated.previous.certificate_fingerprint.bytes.fill(0x72);
    rotated.previous.valid_until = 1500;
    const std::string long_id(64, 'r');
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [&](RegistryWriter& w) {
        return put_client(w, long_id, rotated) && put_client(w, "plain", kFirst);
    }));
    auto reader = temp.open_reader();
    ClientCredentials found;
    assert_ok(reader->find(long_id, found));
    assert_memory_equal(&found.token_hash, &rotated.token_hash, sizeof found.token_hash);
    assert_int_equal(found.serial.length, 20);
    assert_memory_equal(found.serial.bytes.data(), rotated.serial.bytes.data(), 20);
    assert_int_equal(found.issued_at, 999);
    assert_true(found.suspended);
    assert_true(found.previous.present());
    assert_int_equal(found.previous.valid_until, 1500);
    assert_memory_equal(&found.previous.token_hash, &rotated.previous.token_hash, 32);
    assert_memory_equal(&found.previous.certificate_fingerprint,
                        &rotated.previous.certificate_fingerprint, 32);
    std::string id;
    assert_ok(reader->find_by_fingerprint(rotated.certificate_fingerprint, id, found));
    assert_sv_equal(id, long_id);
    assert_int_equal(found.previous.valid_until, 1500);
    assert_ok(reader->find("plain", found));
    assert_false(found.previous.present());
    assert_false(found.suspended);
    // The grace ends: the same client, its record without the block.
    rotated.previous = {};
    assert_true(write_registry(temp.path(),
                               [&](RegistryWriter& w) { return put_client(w, long_id, rotated, true); }));
    assert_ok(reader->find(long_id, found));
    assert_false(found.previous.present());
    assert_true(found.suspended);
}

extern "C" void writer_hung(int) {
    const char message[] = "the writer looped: a copy's table filled up during a change\n";
    (void)!write(2, message, sizeof message - 1);
    _exit(3);
}

// A commit whose end state fits the table, but whose additions sort before
// its removals (the journal's order): the copy must never fill on the way
// (a full table's deletion never ends). It stays in place, and ends whole.
void additions_before_removals_never_fill_a_copy(void**) {
    TempRegistry temp;
    // Both copies of the first file (1 024 slots a table) at 800 clients.
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_numbered(w, 0, 800, 0x30); }));
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_numbered(w, 0, 1, 0x31); }));
    const ino_t before = index_inode(temp.path());
    auto reader = temp.open_reader();
    signal(SIGALRM, writer_hung);
    alarm(60);
    // 224 more would fill the 1 024 slots before the 200 removals: 824 at the end.
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        for (int i = 800; i < 1024; ++i) {
            if (!put_client(w, "aaa" + std::to_string(i), numbered(i, 0x40), true))
                return false;
        }
        for (int i = 0; i < 200; ++i) {
            if (!w.erase("client" + std::to_string(i)).ok())
                return false;
        }
        return true;
    }));
    alarm(0);
    assert_int_equal(index_inode(temp.path()), before);
    ClientCredentials found;
    assert_code(reader->find("client5", found), Errc::unknown_client);
    assert_ok(reader->find("aaa1023", found));
    auto count = reader->count();
    assert_ok(count);
    assert_int_equal(*count, 824);
}

// keyauth-sync's rebuild exchanges the registry's directory whole. A writer
// opened on the old one must not write into, or publish an index for, the
// new one from it.
void a_writer_opened_before_the_directory_was_exchanged_writes_nothing(void**) {
    TempRegistry live;
    TempRegistry rebuilt;
    assert_true(write_registry(rebuilt.path(), [](RegistryWriter& w) {
        return put_client(w, "rebuilt01", kFirst);
    }));
    auto opened_before = live.open(OpenMode::read_write);
    assert_non_null(opened_before.get());
    assert_int_equal(renameat2(AT_FDCWD, rebuilt.path().c_str(), AT_FDCWD, live.path().c_str(),
                               RENAME_EXCHANGE),
                     0);
    auto writer = opened_before->begin_write();
    assert_false(writer.ok());
    assert_non_null(strstr(writer.error().message.c_str(), "was replaced since it was opened"));
    ClientCredentials found;
    assert_false(opened_before->find("rebuilt01", found).ok());
    // The servers' index under the path is still the new registry's.
    auto reader = live.open_reader();
    assert_non_null(reader.get());
    assert_ok(reader->find("rebuilt01", found));
    assert_ok(live.open(OpenMode::read_write)->find("rebuilt01", found));
}

// One waiting for writer.lock while the directory is exchanged under it
// ends up holding the lock of the file named now, never the old one's.
void a_writer_waiting_for_the_lock_takes_the_one_named_after_an_exchange(void**) {
    TempRegistry live;
    TempRegistry rebuilt;
    const std::string lock_path = live.path() + "/writer.lock";
    auto held = keyauth::WriterLock::acquire(lock_path);
    assert_ok(held);
    std::optional<keyauth::Result<keyauth::WriterLock>> waited;
    std::thread waiter([&] { waited = keyauth::WriterLock::acquire(lock_path); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    assert_int_equal(renameat2(AT_FDCWD, rebuilt.path().c_str(), AT_FDCWD, live.path().c_str(),
                               RENAME_EXCHANGE),
                     0);
    { auto released = std::move(*held); }
    waiter.join();
    assert_true(waited.has_value());
    assert_ok(*waited);
    // The file named now is taken: another writer cannot have it.
    auto again = keyauth::WriterLock::acquire(lock_path, keyauth::WriterLock::Scope::writes, 100);
    assert_false(again.ok());
}

void registry_directory_comes_from_flag_then_env_then_default(void**) {
    setenv("KEYAUTH_REGISTRY", "/from/env/", 1);
    assert_sv_equal(keyauth::resolve_registry(std::string_view("/from/flag//")).dir, "/from/flag");
    assert_sv_equal(keyauth::resolve_registry(std::nullopt).dir, "/from/env");
    assert_sv_equal(keyauth::resolve_registry(std::nullopt).data_file(), "/from/env/data.mdb");
    setenv("KEYAUTH_REGISTRY", "", 1);
    assert_sv_equal(keyauth::resolve_registry(std::nullopt).dir, "/var/lib/keyauth");
    unsetenv("KEYAUTH_REGISTRY");
    assert_sv_equal(keyauth::resolve_registry(std::nullopt).dir, "/var/lib/keyauth");
    assert_sv_equal(keyauth::resolve_registry(std::string_view("/")).dir, "/");
    const keyauth::RegistryLayout layout{"/r"};
    assert_sv_equal(layout.commit_sequence(), "/r/commit.seq");
    assert_sv_equal(layout.writer_lock(), "/r/writer.lock");
    assert_sv_equal(layout.ca_cert(), "/r/ca_cert.pem");
    assert_sv_equal(layout.ca_key(), "/r/ca_key.pem");
    assert_sv_equal(layout.server_cert(), "/r/server_cert.pem");
    assert_sv_equal(layout.server_key(), "/r/server_key.pem");
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_then_find_in_the_same_transaction_and_after_commit),
        cmocka_unit_test(uncommitted_writes_are_rolled_back),
        cmocka_unit_test(erase_removes_client_and_fingerprint),
        cmocka_unit_test(erase_of_unknown_client_is_refused),
        cmocka_unit_test(invalid_ids_are_unknown_not_errors),
        cmocka_unit_test(a_certificate_another_client_holds_is_refused_writing_nothing),
        cmocka_unit_test(duplicate_is_refused_without_replace),
        cmocka_unit_test(replace_drops_the_old_fingerprint),
        cmocka_unit_test(put_refuses_invalid_ids),
        cmocka_unit_test(create_open_makes_files_with_exact_modes_under_umask),
        cmocka_unit_test(read_write_open_of_an_empty_directory_creates_nothing),
        cmocka_unit_test(writers_take_turns),
        cmocka_unit_test(a_writer_that_cannot_get_the_lock_gives_up_naming_the_cause),
        cmocka_unit_test(meta_is_committed_with_the_clients_or_not_at_all),
        cmocka_unit_test(a_load_in_and_out_of_id_order_reads_and_writes_on_after_its_commit),
        cmocka_unit_test(a_failed_reopen_after_a_load_is_said_once_and_the_load_stands),
        cmocka_unit_test(a_fill_commits_in_parts_and_publishes_once_at_its_end),
        cmocka_unit_test(a_delete_after_another_writer_grew_the_index_reaches_the_servers),
        cmocka_unit_test(a_change_behind_the_index_is_published_by_the_next_writer),
        cmocka_unit_test(the_owners_walk_lists_a_change_behind_the_index),
        cmocka_unit_test(the_owners_walk_beside_a_busy_writer_lists_what_is_published),
        cmocka_unit_test(the_owners_walk_holds_up_no_writer_while_it_visits),
        cmocka_unit_test(a_dead_writers_new_index_file_is_removed),
        cmocka_unit_test(index_holds_exactly_the_live_fingerprints),
        cmocka_unit_test(corrupt_record_stops_the_writer_not_the_servers),
        cmocka_unit_test(stale_fingerprint_index_entry_is_refused),
        cmocka_unit_test(a_stale_fingerprint_entry_yields_to_a_put),
        cmocka_unit_test(fingerprint_index_naming_an_invalid_id_is_corrupt),
        cmocka_unit_test(a_full_heap_moves_the_index_to_a_new_file_readers_follow),
        cmocka_unit_test(a_table_past_its_load_limit_moves_the_index_to_a_new_file),
        cmocka_unit_test(a_record_with_a_pending_grace_reads_back_whole),
        cmocka_unit_test(additions_before_removals_never_fill_a_copy),
        cmocka_unit_test(a_writer_opened_before_the_directory_was_exchanged_writes_nothing),
        cmocka_unit_test(a_writer_waiting_for_the_lock_takes_the_one_named_after_an_exchange),
        cmocka_unit_test(registry_directory_comes_from_flag_then_env_then_default),
    };
    return run_group(tests);
}
