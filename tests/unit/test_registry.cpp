// The LMDB registry: one writer, read-only servers that see every commit on
// their next lookup and notice a registry replaced on disk.
#include "unit_test.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <lmdb.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "keyauth/files.hpp"
#include "keyauth/staged_files.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "keyauth/registry_layout.hpp"

using keyauth::RegistryReader;
using keyauth::ClientCredentials;
using keyauth::ClientRecord;
using keyauth::Errc;
using keyauth::LmdbRegistry;
using keyauth::OpenMode;
using keyauth::RegistryWriter;
using keyauth_test::fingerprint_filled;
using keyauth_test::make_credentials;
using keyauth_test::put_client;
using keyauth_test::TempDir;
using keyauth_test::TempRegistry;
using keyauth_test::write_registry;
using keyauth_test::write_registry_in_child;

namespace {

const ClientCredentials kFirst = make_credentials(0x10, 1000, 2000);
const ClientCredentials kSecond = make_credentials(0x20, 3000, 4000);
const ClientCredentials kThird = make_credentials(0x40, 3000, 4000);

void assert_same_credentials(const ClientCredentials& a, const ClientCredentials& b) {
    assert_memory_equal(a.token_hash.bytes.data(), b.token_hash.bytes.data(), 32);
    assert_memory_equal(a.certificate_fingerprint.bytes.data(),
                        b.certificate_fingerprint.bytes.data(), 32);
    assert_int_equal(a.serial.length, b.serial.length);
    assert_memory_equal(a.serial.bytes.data(), b.serial.bytes.data(), a.serial.length);
    assert_int_equal(a.validity.not_before, b.validity.not_before);
    assert_int_equal(a.validity.not_after, b.validity.not_after);
    assert_int_equal(a.issued_at, b.issued_at);
}

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

void list_gives_every_client_in_id_order(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "zeta", kFirst) && put_client(w, "alpha", kSecond) &&
               put_client(w, "mid", make_credentials(0x30, 5, 6));
    }));
    auto registry = temp.open_reader();
    auto listed = registry->list();
    assert_ok(listed);
    assert_int_equal(listed->size(), 3);
    assert_sv_equal((*listed)[0].id, "alpha");
    assert_sv_equal((*listed)[1].id, "mid");
    assert_sv_equal((*listed)[2].id, "zeta");
    assert_same_credentials((*listed)[0].credentials, kSecond);
    assert_same_credentials((*listed)[2].credentials, kFirst);
}

void empty_registry_lists_nothing(void**) {
    TempRegistry temp;
    auto registry = temp.open_reader();
    assert_non_null(registry.get());
    auto listed = registry->list();
    assert_ok(listed);
    assert_int_equal(listed->size(), 0);
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

void find_by_fingerprint_names_the_owner(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "one", kFirst) && put_client(w, "two", kSecond);
    }));
    auto registry = temp.open_reader();
    ClientCredentials found;
    std::string id = "stale contents";
    assert_ok(registry->find_by_fingerprint(kSecond.certificate_fingerprint, id, found));
    assert_sv_equal(id, "two");
    assert_same_credentials(found, kSecond);
    assert_ok(registry->find_by_fingerprint(kFirst.certificate_fingerprint, id, found));
    assert_sv_equal(id, "one");
    assert_code(registry->find_by_fingerprint(fingerprint_filled(0x99), id, found),
                Errc::unknown_client);
}

void find_refuses_ids_that_cannot_exist(void**) {
    TempRegistry temp;
    auto registry = temp.open_reader();
    ClientCredentials found;
    assert_code(registry->find("", found), Errc::unknown_client);
    assert_code(registry->find(std::string(65, 'a'), found), Errc::unknown_client);
    assert_code(registry->find(std::string(100000, 'a'), found), Errc::unknown_client);
}

void reader_sees_commits_on_next_lookup(void**) {
    TempRegistry temp;
    auto reader = temp.open_reader();
    assert_non_null(reader.get());
    ClientCredentials found;
    assert_code(reader->find("myapp01", found), Errc::unknown_client);
    assert_true(write_registry_in_child(
        temp.path(), [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    assert_ok(reader->find("myapp01", found));
    assert_same_credentials(found, kFirst);
    assert_true(write_registry_in_child(
        temp.path(), [](RegistryWriter& w) { return put_client(w, "myapp01", kSecond, true); }));
    assert_ok(reader->find("myapp01", found));
    assert_same_credentials(found, kSecond);
    assert_true(write_registry_in_child(temp.path(),
                                        [](RegistryWriter& w) { return w.erase("myapp01").ok(); }));
    assert_code(reader->find("myapp01", found), Errc::unknown_client);
}

void read_only_open_of_missing_dir_is_not_found(void**) {
    TempDir dir;
    const std::string missing = dir / "nope";
    auto opened = RegistryReader::open(missing);
    assert_false(opened.ok());
    assert_int_equal(static_cast<int>(opened.error().code), static_cast<int>(Errc::not_found));
    assert_sv_equal(opened.error().message,
                    "registry " + missing + " does not exist (run keytool init)");
    // Nothing was created.
    struct stat st {};
    assert_int_equal(stat(missing.c_str(), &st), -1);
}

void read_only_open_without_data_mdb_is_not_found(void**) {
    TempDir dir;
    auto opened = RegistryReader::open(dir.path());
    assert_false(opened.ok());
    assert_int_equal(static_cast<int>(opened.error().code), static_cast<int>(Errc::not_found));
    assert_sv_equal(opened.error().message,
                    "registry " + dir.path() + " has no data.mdb (run keytool init)");
    struct stat st {};
    assert_int_equal(stat((dir / "data.mdb").c_str(), &st), -1);
    assert_int_equal(stat((dir / "lock.mdb").c_str(), &st), -1);
}

void read_only_open_of_lmdb_without_tables_is_not_found(void**) {
    TempDir dir;
    MDB_env* env = nullptr;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_open(env, dir.path().c_str(), 0, 0600), 0);
    mdb_env_close(env);
    auto opened = RegistryReader::open(dir.path());
    assert_false(opened.ok());
    assert_int_equal(static_cast<int>(opened.error().code), static_cast<int>(Errc::not_found));
    // LMDB's own layout, without keyauth's lookup index: a 0.1 registry.
    assert_sv_equal(opened.error().message,
                    "registry " + dir.path() +
                        " was made by an older keyauth and has no lookup.idx: run any keytool "
                        "command on it as root once (e.g. keytool list) to upgrade it");
}

void open_of_a_file_is_refused(void**) {
    TempDir dir;
    const std::string file = dir / "file";
    assert_ok(keyauth::write_file_exclusive(file, "x", 0600, false));
    auto opened = RegistryReader::open(file);
    assert_false(opened.ok());
    assert_int_equal(static_cast<int>(opened.error().code),
                     static_cast<int>(Errc::invalid_argument));
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

void generation_changes_after_a_commit(void**) {
    TempRegistry temp;
    auto reader = temp.open_reader();
    const std::uint64_t before = reader->generation();
    assert_int_equal(reader->generation(), before);
    assert_true(write_registry_in_child(
        temp.path(), [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    const std::uint64_t after = reader->generation();
    assert_int_not_equal(after, before);
    assert_int_equal(reader->generation(), after);
    // An aborted write changes nothing.
    assert_false(write_registry_in_child(
        temp.path(), [](RegistryWriter& w) { return put_client(w, "other", kSecond) && false; }));
    assert_int_equal(reader->generation(), after);
}

// Polls find(id) until it succeeds; the milliseconds it took, or -1.
long millis_until_found(keyauth::ClientStore& registry, const std::string& id, long limit_millis) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        ClientCredentials found;
        const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - start)
                                 .count();
        if (registry.find(id, found).ok())
            return static_cast<long>(elapsed);
        if (elapsed > limit_millis)
            return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

// A registry directory holding one client, opened by a reader, that the
// test then removes or swaps for a new one at the same path.
struct SwappableRegistry {
    TempDir parent;
    std::string dir = parent / "registry";
    std::unique_ptr<RegistryReader> reader;

    SwappableRegistry(const std::string& id, const ClientCredentials& credentials) {
        assert_int_equal(mkdir(dir.c_str(), 0700), 0);
        assert_true(
            write_registry(dir, [&](RegistryWriter& w) { return put_client(w, id, credentials); }));
        auto opened = RegistryReader::open(dir);
        assert_ok(opened);
        reader = std::move(*opened);
    }
    // A new directory at the same path, written by another process.
    void recreate(const std::string& id, const ClientCredentials& credentials) {
        assert_int_equal(mkdir(dir.c_str(), 0700), 0);
        assert_true(write_registry_in_child(
            dir, [&](RegistryWriter& w) { return put_client(w, id, credentials); }));
    }
    void replace(const std::string& id, const ClientCredentials& credentials) {
        assert_int_equal(rename(dir.c_str(), (parent / "registry.old").c_str()), 0);
        recreate(id, credentials);
    }
};

void replaced_registry_is_noticed_within_300ms(void**) {
    SwappableRegistry registry("old", kFirst);
    ClientCredentials found;
    assert_ok(registry.reader->find("old", found));
    const std::uint64_t generation = registry.reader->generation();

    registry.replace("new", kSecond);
    const long millis = millis_until_found(*registry.reader, "new", 1000);
    print_message("replacement noticed after %ld ms\n", millis);
    assert_in_range(millis, 0, 300);
    assert_code(registry.reader->find("old", found), Errc::unknown_client);
    assert_int_not_equal(registry.reader->generation(), generation);
}

// The replacement holds the same id, written in as many transactions: only
// the reopen tells the two apart, and the new credentials must win.
void replaced_registry_with_the_same_history_is_read_afresh(void**) {
    SwappableRegistry registry("myapp01", kFirst);
    ClientCredentials found;
    for (int i = 0; i < 3; ++i) {
        assert_ok(registry.reader->find("myapp01", found));
        assert_same_credentials(found, kFirst);
    }
    std::string id;
    assert_ok(registry.reader->find_by_fingerprint(kFirst.certificate_fingerprint, id, found));

    registry.replace("myapp01", kSecond);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    assert_ok(registry.reader->find("myapp01", found));
    assert_same_credentials(found, kSecond);
    assert_code(registry.reader->find_by_fingerprint(kFirst.certificate_fingerprint, id, found),
                Errc::unknown_client);
}

void removed_registry_fails_closed_then_recovers(void**) {
    SwappableRegistry registry("old", kFirst);
    TempDir::remove_tree(registry.dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    ClientCredentials found;
    assert_code(registry.reader->find("old", found), Errc::not_found);
    assert_int_equal(registry.reader->generation(), ~std::uint64_t{0});

    registry.recreate("new", kSecond);
    assert_in_range(millis_until_found(*registry.reader, "new", 1000), 0, 300);
    assert_code(registry.reader->find("old", found), Errc::unknown_client);
}

// A child process that opens the registry, waits for `start` (if given),
// opens a write transaction, puts `id`, tells the parent through `ready`,
// and commits once `go` says so (or after 300 ms without `go`).
struct ChildWriter {
    int start = -1;
    int ready = -1;
    int go = -1;
};

pid_t hold_write_in_child(const std::string& dir, const char* id, ChildWriter pipes) {
    const pid_t pid = fork();
    if (pid != 0)
        return pid;
    auto registry = LmdbRegistry::open(dir, OpenMode::read_write);
    if (!registry)
        _exit(2);
    char byte = 0;
    if (pipes.start >= 0 && read(pipes.start, &byte, 1) != 1)
        _exit(7);
    auto writer = (*registry)->begin_write();
    if (!writer || !put_client(**writer, id, make_credentials(0x55, 1, 2)))
        _exit(3);
    byte = 'r';
    if (write(pipes.ready, &byte, 1) != 1)
        _exit(4);
    if (pipes.go >= 0) {
        if (read(pipes.go, &byte, 1) != 1)
            _exit(5);
    } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    _exit((*writer)->commit().ok() ? 0 : 6);
}

int exit_code_of(pid_t pid) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

void readers_are_not_blocked_by_an_open_write(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "old", kFirst); }));
    auto reader = temp.open_reader();
    int ready[2];
    int go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    const pid_t child = hold_write_in_child(temp.path(), "new", {-1, ready[1], go[0]});
    char byte = 0;
    assert_int_equal(read(ready[0], &byte, 1), 1);
    // The write transaction is open: lookups answer at once, from the last commit.
    const auto start = std::chrono::steady_clock::now();
    ClientCredentials found;
    assert_ok(reader->find("old", found));
    assert_code(reader->find("new", found), Errc::unknown_client);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    assert_in_range(millis, 0, 100);
    assert_int_equal(write(go[1], &byte, 1), 1);
    assert_int_equal(exit_code_of(child), 0);
    assert_ok(reader->find("new", found));
    for (int fd : {ready[0], ready[1], go[0], go[1]})
        close(fd);
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

// How long one lookup took, in microseconds.
template <class Lookup>
long micros_of(Lookup&& lookup) {
    const auto begun = std::chrono::steady_clock::now();
    lookup();
    return static_cast<long>(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - begun)
                                 .count());
}

// A writer deleting "victim" stops itself at a point of its commit (the
// test hook), is checked on while stopped, then killed there.
pid_t writer_stopped_at(const std::string& dir, const char* point) {
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("KEYAUTH_TEST_STOP_AT", point, 1);
        _exit(write_registry(dir, [](RegistryWriter& w) { return w.erase("victim").ok(); }) ? 0
                                                                                             : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
    assert_true(WIFSTOPPED(status));
    return pid;
}

void kill_writer(pid_t pid) {
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

// Readers never wait for a writer: one stopped (Ctrl-Z, SIGSTOP) or killed
// at any point of its commit leaves every lookup answered at once from the
// last published state; the next writer publishes what LMDB committed.
void a_writer_stopped_or_killed_anywhere_never_holds_up_readers(void**) {
    struct Point {
        const char* name;
        bool published;  // the delete is visible while the writer is stopped
        bool committed;  // LMDB holds it: the next writer publishes it
    };
    const Point points[] = {
        {"before-commit", false, false}, {"lmdb-committed", false, true},
        {"copy-marked", false, true},    {"copy-changed", false, true},
        {"copy-durable", false, true},   {"published", true, true},
    };
    for (const Point& point : points) {
        TempRegistry temp;
        assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
            return put_client(w, "victim", kFirst) && put_client(w, "bystander", kSecond);
        }));
        auto reader = temp.open_reader();
        ClientCredentials found;
        assert_ok(reader->find("bystander", found));

        const pid_t writer = writer_stopped_at(temp.path(), point.name);
        keyauth::Status bystander;
        keyauth::Status victim;
        long slowest = micros_of([&] { bystander = reader->find("bystander", found); });
        slowest = std::max(slowest, micros_of([&] { victim = reader->find("victim", found); }));
        assert_ok(bystander);
        if (point.published)
            assert_code(victim, Errc::unknown_client);
        else
            assert_ok(victim);
        // Answered, not waited for (generous: a shared, noisy machine).
        assert_in_range(slowest, 0, 100000);
        kill_writer(writer);
        assert_ok(reader->find("bystander", found));

        assert_true(write_registry_in_child(
            temp.path(), [](RegistryWriter& w) { return put_client(w, "next", kThird); }));
        assert_ok(reader->find("bystander", found));
        assert_ok(reader->find("next", found));
        if (point.committed)
            assert_code(reader->find("victim", found), Errc::unknown_client);
        else
            assert_ok(reader->find("victim", found));
        std::string owner;
        assert_ok(reader->find_by_fingerprint(kSecond.certificate_fingerprint, owner, found));
        assert_sv_equal(owner, "bystander");
    }
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
    // Readers do not care.
    auto reader = temp.open_reader();
    assert_non_null(reader.get());
    ClientCredentials found;
    assert_code(reader->find("nobody", found), Errc::unknown_client);
    close(fd);
    assert_non_null(temp.open(OpenMode::read_write).get());
}

// Hundreds of readers at once: no reader table to fill (LMDB's held 126).
void three_hundred_readers_at_once(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    int go[2];
    assert_int_equal(pipe(go), 0);
    std::vector<pid_t> children;
    for (int i = 0; i < 300; ++i) {
        const pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(go[1]);
            auto reader = RegistryReader::open(temp.path());
            char byte = 0;
            // Every reader holds its registry open until all are open.
            if (!reader || read(go[0], &byte, 1) != 0)
                _exit(2);
            ClientCredentials found;
            _exit((*reader)->find("myapp01", found).ok() ? 0 : 1);
        }
        children.push_back(pid);
    }
    close(go[0]);
    close(go[1]);
    int succeeded = 0;
    for (pid_t pid : children)
        succeeded += exit_code_of(pid) == 0 ? 1 : 0;
    assert_int_equal(succeeded, 300);
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

// A lookup index whose slots make no sense is reported, never trusted.
void corrupt_lookup_index_is_reported_not_trusted(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    auto registry = temp.open_reader();
    // Every slot of both copies set to a value no writer writes; the
    // copies' headers (a page each) left as they are.
    const std::string path = temp.path() + "/lookup.idx";
    const int fd = open(path.c_str(), O_RDWR);
    assert_true(fd >= 0);
    struct stat st {};
    assert_int_equal(fstat(fd, &st), 0);
    const std::size_t copy_bytes = (static_cast<std::size_t>(st.st_size) - 4096) / 2;
    std::vector<char> bytes(copy_bytes - 4096, 7);
    for (std::size_t copy = 0; copy < 2; ++copy) {
        const off_t tables = static_cast<off_t>(4096 + copy * copy_bytes + 4096);
        assert_int_equal(pwrite(fd, bytes.data(), bytes.size(), tables),
                         static_cast<ssize_t>(bytes.size()));
    }
    close(fd);
    ClientCredentials found;
    const keyauth::Status status = registry->find("myapp01", found);
    assert_code(status, Errc::registry_corrupt);
    assert_non_null(strstr(status.error().message.c_str(), "lookup.idx is corrupt"));
    std::string id;
    assert_code(registry->find_by_fingerprint(kFirst.certificate_fingerprint, id, found),
                Errc::registry_corrupt);
    assert_false(registry->list().ok());
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

// As sshd's StrictModes: a registry others may write is refused outright.
void a_registry_others_may_write_is_refused(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    assert_int_equal(chmod(temp.path().c_str(), 0770), 0);
    auto writer = LmdbRegistry::open(temp.path(), OpenMode::read_write);
    assert_false(writer.ok());
    assert_non_null(strstr(writer.error().message.c_str(), "writable by its group or others"));
    auto reader = RegistryReader::open(temp.path());
    assert_false(reader.ok());
    assert_non_null(strstr(reader.error().message.c_str(), "writable by its group or others"));
    assert_int_equal(chmod(temp.path().c_str(), 0750), 0);
    const std::string index = temp.path() + "/lookup.idx";
    assert_int_equal(chmod(index.c_str(), 0660), 0);
    assert_false(RegistryReader::open(temp.path()).ok());
    assert_int_equal(chmod(index.c_str(), 0640), 0);
    // Owned by someone else (nobody: uid 65534).
    assert_int_equal(chown(index.c_str(), 65534, static_cast<gid_t>(-1)), 0);
    auto refused = RegistryReader::open(temp.path());
    assert_false(refused.ok());
    assert_non_null(strstr(refused.error().message.c_str(), "only the registry's owner"));
    assert_int_equal(chown(index.c_str(), getuid(), static_cast<gid_t>(-1)), 0);
    assert_non_null(temp.open_reader().get());
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
        cmocka_unit_test(list_gives_every_client_in_id_order),
        cmocka_unit_test(empty_registry_lists_nothing),
        cmocka_unit_test(erase_removes_client_and_fingerprint),
        cmocka_unit_test(erase_of_unknown_client_is_refused),
        cmocka_unit_test(duplicate_is_refused_without_replace),
        cmocka_unit_test(replace_drops_the_old_fingerprint),
        cmocka_unit_test(put_refuses_invalid_ids),
        cmocka_unit_test(find_by_fingerprint_names_the_owner),
        cmocka_unit_test(find_refuses_ids_that_cannot_exist),
        cmocka_unit_test(reader_sees_commits_on_next_lookup),
        cmocka_unit_test(read_only_open_of_missing_dir_is_not_found),
        cmocka_unit_test(read_only_open_without_data_mdb_is_not_found),
        cmocka_unit_test(read_only_open_of_lmdb_without_tables_is_not_found),
        cmocka_unit_test(open_of_a_file_is_refused),
        cmocka_unit_test(create_open_makes_files_with_exact_modes_under_umask),
        cmocka_unit_test(read_write_open_of_an_empty_directory_creates_nothing),
        cmocka_unit_test(generation_changes_after_a_commit),
        cmocka_unit_test(replaced_registry_is_noticed_within_300ms),
        cmocka_unit_test(replaced_registry_with_the_same_history_is_read_afresh),
        cmocka_unit_test(removed_registry_fails_closed_then_recovers),
        cmocka_unit_test(readers_are_not_blocked_by_an_open_write),
        cmocka_unit_test(writers_take_turns),
        cmocka_unit_test(a_writer_stopped_or_killed_anywhere_never_holds_up_readers),
        cmocka_unit_test(a_writer_that_cannot_get_the_lock_gives_up_naming_the_cause),
        cmocka_unit_test(three_hundred_readers_at_once),
        cmocka_unit_test(meta_is_committed_with_the_clients_or_not_at_all),
        cmocka_unit_test(a_delete_after_another_writer_grew_the_index_reaches_the_servers),
        cmocka_unit_test(a_change_behind_the_index_is_published_by_the_next_writer),
        cmocka_unit_test(a_registry_others_may_write_is_refused),
        cmocka_unit_test(index_holds_exactly_the_live_fingerprints),
        cmocka_unit_test(corrupt_record_stops_the_writer_not_the_servers),
        cmocka_unit_test(corrupt_lookup_index_is_reported_not_trusted),
        cmocka_unit_test(stale_fingerprint_index_entry_is_refused),
        cmocka_unit_test(fingerprint_index_naming_an_invalid_id_is_corrupt),
        cmocka_unit_test(registry_directory_comes_from_flag_then_env_then_default),
    };
    return run_group(tests);
}
