// The servers' side of the registry (RegistryReader): lookups that see every
// commit on their next call and never wait for a writer, a registry replaced
// on disk noticed, and an index that cannot be trusted refused.
#include "registry_test.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <lmdb.h>
#include <malloc.h>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <thread>
#include <vector>

#include "keyauth/client_listing.hpp"
#include "keyauth/provisioning.hpp"
#include "keyauth/staged_files.hpp"
#include "registry_directory.hpp"

using keyauth::RegistryReader;

namespace {

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
    auto counted = registry->count();  // the copy's count, not a walk
    assert_ok(counted);
    assert_int_equal(*counted, 3);
}

void empty_registry_lists_nothing(void**) {
    TempRegistry temp;
    auto registry = temp.open_reader();
    assert_non_null(registry.get());
    auto listed = registry->list();
    assert_ok(listed);
    assert_int_equal(listed->size(), 0);
}

// More clients than a walk in ranges holds at once: ids of 2 to 7
// characters, not written in id order, each with credentials of its own.
constexpr int kWalkedClients = 3000;
std::string walked_id(int i) {
    return "c" + std::to_string(i * 7919 % kWalkedClients) + (i % 3 == 0 ? "-x" : "");
}
ClientCredentials walked_credentials(int i) {
    ClientCredentials c = make_credentials(static_cast<std::uint8_t>(i), i, 100000 + i);
    c.certificate_fingerprint.bytes[0] = static_cast<std::uint8_t>(i >> 8);  // one each
    return c;
}
bool put_walked_clients(RegistryWriter& w) {
    for (int i = 0; i < kWalkedClients; ++i) {
        if (!put_client(w, walked_id(i), walked_credentials(i)))
            return false;
    }
    return true;
}

// What a scan visits after its last start over (start_overs counts them).
std::vector<keyauth::ClientRecord> walk_of(keyauth::LocalRegistry& registry, bool backward,
                                           int* start_overs = nullptr) {
    std::vector<keyauth::ClientRecord> seen;
    const keyauth::Status walked = registry.scan(
        backward,
        [&] {
            seen.clear();
            if (start_overs != nullptr)
                ++*start_overs;
        },
        [&](std::string_view id, const ClientCredentials& c) {
            seen.push_back(keyauth::ClientRecord{std::string(id), c});
            return true;
        });
    assert_ok(walked);
    return seen;
}

void assert_same_walk(const std::vector<keyauth::ClientRecord>& got,
                      const std::vector<keyauth::ClientRecord>& expected) {
    assert_int_equal(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        assert_sv_equal(got[i].id, expected[i].id);
        assert_same_credentials(got[i].credentials, expected[i].credentials);
    }
}

// The servers' group lists through lookup.idx, a hash table, in ranges of
// ids; what it visits is the owner's walk of LMDB, both ways, whatever the
// range: about 47 ranges (64), 255 ranges taken in parts (5, 1), one pass
// (all held). A page from the middle, stopping early, is the owner's too.
void a_walk_in_ranges_is_the_owners_walk(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), put_walked_clients));
    auto owner = temp.open(OpenMode::read_write);
    auto reader = temp.open_reader();
    assert_non_null(reader.get());
    const auto forward = walk_of(*owner, false);
    const auto backward = walk_of(*owner, true);
    assert_int_equal(forward.size(), kWalkedClients);
    keyauth::ListingQuery middle;
    middle.offset = 1500;
    middle.limit = 40;
    for (const std::size_t range : {64, 5, 1, kWalkedClients}) {
        reader->set_walk_range(range);
        int start_overs = 0;
        assert_same_walk(walk_of(*reader, false, &start_overs), forward);
        assert_int_equal(start_overs, 1);
        assert_same_walk(walk_of(*reader, true), backward);
        for (const bool descending : {false, true}) {
            middle.descending = descending;
            auto page = keyauth::list_clients_page(*reader, middle);
            auto owners_page = keyauth::list_clients_page(*owner, middle);
            assert_ok(page);
            assert_ok(owners_page);
            assert_int_equal(page->total, kWalkedClients);
            assert_same_walk(page->records, owners_page->records);
        }
    }
}

// Bytes malloc has handed out and not taken back (0 where the allocator is
// not glibc's, e.g. under AddressSanitizer).
std::size_t allocated_bytes() {
    return mallinfo2().uordblks;
}

// While a range is visited, only that range's records are held: the walk
// of 3 000 clients in ranges of 64 holds a small part of what holding them
// all (~3 000 ClientRecords) would.
bool allocator_counts() {
    const std::size_t before = allocated_bytes();
    std::vector<char> probe(1 << 20, 1);
    return allocated_bytes() >= before + probe.size();
}

void a_walk_holds_one_range_at_a_time(void**) {
    // skip() jumps out: nothing of this scope's may still be held.
    if (!allocator_counts())
        skip();  // this allocator does not count what it handed out
    TempRegistry temp;
    assert_true(write_registry(temp.path(), put_walked_clients));
    auto reader = temp.open_reader();
    assert_non_null(reader.get());
    reader->set_walk_range(64);
    const std::size_t before = allocated_bytes();
    std::size_t most = 0;
    std::size_t visited = 0;
    assert_ok(reader->scan(
        false, [] {},
        [&](std::string_view, const ClientCredentials&) {
            ++visited;
            most = std::max(most, allocated_bytes());
            return true;
        }));
    assert_int_equal(visited, kWalkedClients);
    const std::size_t all_held = kWalkedClients * sizeof(keyauth::ClientRecord);
    if (most - before >= all_held / 4) {
        fail_msg("%zu bytes held while visiting (all %d records: %zu)", most - before,
                 kWalkedClients, all_held);
    }
}

// The kB of lookup.idx's pages mapped into this process (Rss, summed over
// every mapping of that file in /proc/self/smaps).
std::size_t index_pages_mapped_kb(const std::string& index_path) {
    std::FILE* smaps = std::fopen("/proc/self/smaps", "r");
    assert_non_null(smaps);
    char line[4096];
    bool in_index = false;
    std::size_t kb = 0;
    while (std::fgets(line, sizeof line, smaps) != nullptr) {
        std::string text(line);
        if (!text.empty() && text.back() == '\n')
            text.pop_back();
        // A mapping's first line: "start-end perms offset dev inode path".
        if (text.find('-') < text.find(' ') && std::isxdigit(static_cast<unsigned char>(text[0]))) {
            in_index =
                text.size() >= index_path.size() &&
                text.compare(text.size() - index_path.size(), index_path.size(), index_path) == 0;
        } else if (in_index && text.rfind("Rss:", 0) == 0) {
            kb += std::strtoul(text.c_str() + 4, nullptr, 10);
        }
    }
    std::fclose(smaps);
    return kb;
}

// A walk reads lookup.idx through a descriptor, never its map: whatever the
// registry's size, none of the table's or the heap's pages it reads stays
// in the walker's RSS (through the map, a walk of 10^7 clients held ~1.4 GB
// of them). The headers a lookup reads were mapped before; a walk in ranges
// and one in a single pass, both ways, map less than a sixteenth of the file
// beside them (through the map: all of it).
void a_walk_maps_no_page_of_the_table_or_heap(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), put_walked_clients));
    char resolved[PATH_MAX];
    assert_non_null(realpath((temp.path() + "/lookup.idx").c_str(), resolved));
    const std::string index_path = resolved;
    struct stat st {};
    assert_int_equal(stat(index_path.c_str(), &st), 0);
    auto reader = temp.open_reader();
    assert_non_null(reader.get());
    auto counted = reader->count();  // the published copy's header
    assert_ok(counted);
    assert_int_equal(*counted, kWalkedClients);
    const std::size_t before = index_pages_mapped_kb(index_path);
    for (const std::size_t range : {64, kWalkedClients}) {
        reader->set_walk_range(range);
        for (const bool backward : {false, true})
            assert_int_equal(walk_of(*reader, backward).size(), kWalkedClients);
    }
    const std::size_t walked = index_pages_mapped_kb(index_path) - before;
    const auto file_kb = static_cast<std::size_t>(st.st_size / 1024);
    if (walked > file_kb / 16)
        fail_msg("a walk mapped %zu kB of lookup.idx's %zu kB", walked, file_kb);
}

// A lookup.idx replaced on disk after the reader mapped it (a rebuild's
// rename, not yet noticed): a walk reads only the file it maps, so the
// reader opens the new one and the walk lists it, never fails.
void a_walk_follows_an_index_replaced_since_it_was_mapped(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "one", kFirst) && put_client(w, "two", kSecond);
    }));
    auto reader = temp.open_reader();
    assert_non_null(reader.get());
    const std::string index_path = temp.path() + "/lookup.idx";
    const std::string copy_path = index_path + ".copy";
    const int from = open(index_path.c_str(), O_RDONLY);
    const int to = open(copy_path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0640);
    assert_true(from >= 0 && to >= 0);
    std::vector<char> bytes(1 << 16);
    for (ssize_t got; (got = read(from, bytes.data(), bytes.size())) > 0;)
        assert_int_equal(write(to, bytes.data(), static_cast<std::size_t>(got)), got);
    close(from);
    close(to);
    assert_int_equal(rename(copy_path.c_str(), index_path.c_str()), 0);
    int start_overs = 0;
    const auto seen = walk_of(*reader, false, &start_overs);
    assert_int_equal(seen.size(), 2);
    assert_sv_equal(seen[0].id, "one");
    assert_sv_equal(seen[1].id, "two");
    assert_in_range(start_overs, 1, 2);  // 1: the reader's own check saw it first
}

// A commit published between two ranges: what was visited mixes two states,
// so the walk starts over (start_over, as a commit during an LMDB walk does)
// and visits the new state whole: each client once, the owner's walk.
void a_commit_between_ranges_starts_the_walk_over(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), put_walked_clients));
    auto reader = temp.open_reader();
    assert_non_null(reader.get());
    reader->set_walk_range(64);
    for (const bool backward : {false, true}) {
        const std::string added = backward ? "a-added-backward" : "c999-added";
        const std::string erased = walked_id(backward ? 11 : 12);
        std::vector<keyauth::ClientRecord> seen;
        int start_overs = 0;
        assert_ok(reader->scan(
            backward,
            [&] {
                seen.clear();
                ++start_overs;
            },
            [&](std::string_view id, const ClientCredentials& c) {
                seen.push_back(keyauth::ClientRecord{std::string(id), c});
                if (start_overs == 1 && seen.size() == 100) {
                    assert_true(write_registry_in_child(temp.path(), [&](RegistryWriter& w) {
                        return put_client(w, added,
                                          walked_credentials(kWalkedClients + backward)) &&
                               w.erase(erased).ok();
                    }));
                }
                return true;
            }));
        assert_int_equal(start_overs, 2);
        // Opened only now: a child forked with LMDB open could not write.
        assert_same_walk(seen, walk_of(*temp.open(OpenMode::read_write), backward));
        ClientCredentials found;
        assert_ok(reader->find(added, found));
        assert_code(reader->find(erased, found), Errc::unknown_client);
    }
}

// A walk that meets a commit every time gives up after a few, saying why.
void a_walk_a_commit_meets_every_time_gives_up(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), put_walked_clients));
    auto reader = temp.open_reader();
    assert_non_null(reader.get());
    reader->set_walk_range(64);
    int start_overs = 0;
    bool committed = false;
    const keyauth::Status walked = reader->scan(
        false,
        [&] {
            ++start_overs;
            committed = false;
        },
        [&](std::string_view, const ClientCredentials&) {
            if (!committed) {
                committed = true;
                assert_true(write_registry_in_child(temp.path(), [&](RegistryWriter& w) {
                    return put_client(w, "commit" + std::to_string(start_overs),
                                      walked_credentials(kWalkedClients + start_overs));
                }));
            }
            return true;
        });
    assert_code(walked, Errc::io_error);
    assert_non_null(std::strstr(walked.error().message.c_str(), "a commit was published"));
    assert_int_equal(start_overs, 8);
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

// find_while runs the caller's work (the token's hash) exactly once on every
// path, and answers as find does: an id that cannot exist, an unknown one,
// one read from lookup.idx, the same one again from the lookup cache.
void find_while_runs_its_work_once_and_answers_as_find(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    auto registry = temp.open_reader();
    int runs = 0;
    auto work = [&] { ++runs; };
    ClientCredentials found;
    for (const std::string& id : {std::string(), std::string(65, 'a'), std::string("nobody")}) {
        runs = 0;
        assert_code(registry->find_while(id, found, keyauth::Meanwhile(work)),
                    Errc::unknown_client);
        assert_int_equal(runs, 1);
    }
    for (int lookup = 0; lookup < 2; ++lookup) {  // the index, then the cache
        runs = 0;
        found = ClientCredentials{};
        assert_ok(registry->find_while("myapp01", found, keyauth::Meanwhile(work)));
        assert_int_equal(runs, 1);
        assert_same_credentials(found, kFirst);
    }
    assert_true(write_registry_in_child(
        temp.path(), [](RegistryWriter& w) { return put_client(w, "myapp01", kSecond, true); }));
    runs = 0;
    assert_ok(registry->find_while("myapp01", found, keyauth::Meanwhile(work)));
    assert_int_equal(runs, 1);
    assert_same_credentials(found, kSecond);  // the commit, not the cached record
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
    assert_int_equal(*reader->count(), 1);
    assert_true(write_registry_in_child(temp.path(),
                                        [](RegistryWriter& w) { return w.erase("myapp01").ok(); }));
    assert_code(reader->find("myapp01", found), Errc::unknown_client);
    assert_int_equal(*reader->count(), 0);
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

// A lookup.idx of format 3 (records inline in both copies' slots) is
// refused, naming the fix, and replaced by a new file at the next write.
void an_index_of_format_3_is_refused_then_replaced_by_the_next_write(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    const std::string path = temp.path() + "/lookup.idx";
    const int fd = open(path.c_str(), O_RDWR);
    assert_true(fd >= 0);
    const std::uint32_t format = 3;
    assert_int_equal(pwrite(fd, &format, sizeof format, 8), static_cast<ssize_t>(sizeof format));
    close(fd);
    auto refused = RegistryReader::open(temp.path());
    assert_false(refused.ok());
    assert_non_null(strstr(refused.error().message.c_str(),
                           "lookup.idx was made by an older keyauth: run any keytool command"));
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp02", kSecond); }));
    auto reader = temp.open_reader();
    assert_non_null(reader.get());
    ClientCredentials found;
    assert_ok(reader->find("myapp01", found));
    assert_ok(reader->find("myapp02", found));
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

// How long one lookup took, in microseconds.
template <class Lookup>
long micros_of(Lookup&& lookup) {
    const auto begun = std::chrono::steady_clock::now();
    lookup();
    return static_cast<long>(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - begun)
                                 .count());
}

// A writer deleting "victim" (or making another change) stops itself at a
// point of its commit (the test hook), is checked on while stopped, then
// killed there.
template <class Change>
pid_t writer_stopped_at(const std::string& dir, const char* point, Change&& change) {
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("KEYAUTH_TEST_STOP_AT", point, 1);
        _exit(write_registry(dir, change) ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
    assert_true(WIFSTOPPED(status));
    return pid;
}

pid_t writer_stopped_at(const std::string& dir, const char* point) {
    return writer_stopped_at(dir, point, [](RegistryWriter& w) { return w.erase("victim").ok(); });
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

// A writer killed between renaming a grown lookup.idx in and retiring the
// old file, then a commit at once: a reader still on the old file (its look
// for a replaced file not due yet) finds the counter naming a copy that file
// never held. It must follow the path to the new file, not refuse everyone.
void a_reader_on_an_index_a_killed_writer_replaced_follows_the_path(void**) {
    TempRegistry temp;
    // The first index filled to its capacity: one more client makes a new file.
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "bystander", kSecond); }));
    assert_true(fill_first_index(temp));
    const auto opened = std::chrono::steady_clock::now();
    auto reader = temp.open_reader();
    ClientCredentials found;
    assert_ok(reader->find("bystander", found));
    kill_writer(writer_stopped_at(temp.path(), "new-file-in-place", [](RegistryWriter& w) {
        return put_client(w, "grower", kFirst);
    }));
    assert_true(write_registry_in_child(
        temp.path(), [](RegistryWriter& w) { return put_client(w, "next", kThird); }));
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - opened)
                            .count();
    assert_ok(reader->find("bystander", found));
    assert_ok(reader->find("next", found));
    assert_ok(reader->find("grower", found));
    // The reader looks for a replaced file every 200 ms: past that, this
    // test no longer puts it on the old file (a slow disk).
    if (millis >= 200)
        std::fprintf(stderr, "# the writes took %lld ms: the old file was not tested\n",
                     static_cast<long long>(millis));
}

// find_while's probe, computed before the lookup, is of the file the
// reader had mapped: a file replaced meanwhile (grown here, inside the
// 200 ms the reader does not look at the path) is probed anew, never with
// the old file's slot (past a smaller table's end, or another hash key).
void find_while_follows_a_grown_index(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "bystander", kSecond); }));
    assert_true(fill_first_index(temp));
    const auto opened = std::chrono::steady_clock::now();
    auto reader = temp.open_reader();
    int runs = 0;
    auto work = [&] { ++runs; };
    ClientCredentials found;
    assert_ok(reader->find_while("bystander", found, keyauth::Meanwhile(work)));
    assert_true(write_registry_in_child(
        temp.path(), [](RegistryWriter& w) { return put_client(w, "grower", kFirst); }));
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - opened)
                            .count();
    assert_ok(reader->find_while("client77", found, keyauth::Meanwhile(work)));
    assert_ok(reader->find_while("bystander", found, keyauth::Meanwhile(work)));
    assert_ok(reader->find_while("grower", found, keyauth::Meanwhile(work)));
    for (int i = 1; i < kFirstIndexCapacity; ++i)
        assert_ok(
            reader->find_while("client" + std::to_string(i), found, keyauth::Meanwhile(work)));
    assert_int_equal(runs, 4 + 869);
    if (millis >= 200)
        std::fprintf(stderr, "# the writes took %lld ms: the old file was not tested\n",
                     static_cast<long long>(millis));
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

// A lookup index whose slots make no sense is reported, never trusted.
void corrupt_lookup_index_is_reported_not_trusted(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    auto registry = temp.open_reader();
    // Every slot of both copies set to a value no writer writes (a record
    // far past the heap); the copies' headers (a page each) left as they are.
    const std::string path = temp.path() + "/lookup.idx";
    const int fd = open(path.c_str(), O_RDWR);
    assert_true(fd >= 0);
    std::uint64_t slots = 0;
    assert_int_equal(pread(fd, &slots, sizeof slots, 16), static_cast<ssize_t>(sizeof slots));
    const std::size_t copy_bytes = (4096 + slots * 16 + 4095) / 4096 * 4096;
    std::vector<char> bytes(slots * 16, 7);
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
    int runs = 0;
    auto work = [&] { ++runs; };
    assert_code(registry->find_while("myapp01", found, keyauth::Meanwhile(work)),
                Errc::registry_corrupt);
    assert_int_equal(runs, 1);
    std::string id;
    assert_code(registry->find_by_fingerprint(kFirst.certificate_fingerprint, id, found),
                Errc::registry_corrupt);
    assert_false(registry->list().ok());
}

// lookup.idx's geometry (shared/verify/src/index_file.hpp), for the tests
// that damage it on purpose: a header page, two copies (a header page, then
// id and fingerprint tables of 8-byte slots), then the heap of records.
struct IndexGeometry {
    std::uint64_t slots = 0;
    std::uint64_t heap_bytes = 0;

    explicit IndexGeometry(int fd) {
        assert_int_equal(pread(fd, &slots, 8, 16), 8);
        assert_int_equal(pread(fd, &heap_bytes, 8, 24), 8);
    }
    off_t copy_bytes() const { return static_cast<off_t>((4096 + slots * 16 + 4095) / 4096 * 4096); }
    off_t tables(unsigned copy) const { return 4096 + copy * copy_bytes() + 4096; }
    off_t heap() const { return 4096 + 2 * copy_bytes(); }
};

constexpr std::uint64_t kRecordIndexMask = (std::uint64_t{1} << 40) - 1;

// Every full slot of both copies' tables, rewritten by change(copy, word).
template <class Change>
void rewrite_slots(int fd, const IndexGeometry& index, Change&& change) {
    std::vector<std::uint64_t> words(index.slots * 2);
    const auto bytes = static_cast<ssize_t>(words.size() * 8);
    for (unsigned copy = 0; copy < 2; ++copy) {
        assert_int_equal(pread(fd, words.data(), bytes, index.tables(copy)), bytes);
        for (std::uint64_t& word : words) {
            if (word != 0)
                word = change(copy, word);
        }
        assert_int_equal(pwrite(fd, words.data(), bytes, index.tables(copy)), bytes);
    }
}

// Whatever a damaged index names (a record past the heap, a record running
// past the file, a record with a byte no writer writes, a record whose id
// no writer accepts) is reported as a corrupt registry by every lookup,
// never followed. The id looked up is checked once, at the entry; a stored
// id that differs from it is checked as it is decoded.
void hostile_index_bytes_are_reported_never_followed(void**) {
    enum class Damage { slot_past_heap, record_past_file, unknown_flag, invalid_stored_id };
    for (Damage damage : {Damage::slot_past_heap, Damage::record_past_file, Damage::unknown_flag,
                          Damage::invalid_stored_id}) {
        TempRegistry temp;
        assert_true(write_registry(
            temp.path(), [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
        const int fd = open((temp.path() + "/lookup.idx").c_str(), O_RDWR);
        assert_true(fd >= 0);
        const IndexGeometry index(fd);
        const std::uint64_t last_word = index.heap_bytes / 8;  // its record index
        if (damage == Damage::slot_past_heap) {
            // As far past it as a slot can name.
            rewrite_slots(fd, index, [&](unsigned, std::uint64_t word) {
                return (word & ~kRecordIndexMask) | kRecordIndexMask;
            });
        } else if (damage == Damage::record_past_file) {
            // A 64-byte id claimed by the heap's last 8 bytes.
            const unsigned char head[8] = {64, 0, 1, 0, 0, 0, 0, 0};
            assert_int_equal(pwrite(fd, head, 8, index.heap() + static_cast<off_t>(index.heap_bytes) - 8),
                             8);
            rewrite_slots(fd, index,
                          [&](unsigned, std::uint64_t word) {
                              return (word & ~kRecordIndexMask) | last_word;
                          });
        } else if (damage == Damage::unknown_flag) {
            // The one record, at the heap's start: a flag no writer sets.
            const unsigned char flags = 0x80;
            assert_int_equal(pwrite(fd, &flags, 1, index.heap() + 1), 1);
        } else {
            // Its id (after the length and flags bytes) "myapp01" made
            // "my..p01", its slot's tag left as "myapp01"'s.
            assert_int_equal(pwrite(fd, "..", 2, index.heap() + 2 + 2), 2);
        }
        close(fd);
        auto registry = temp.open_reader();
        assert_non_null(registry.get());
        ClientCredentials found;
        assert_code(registry->find("myapp01", found), Errc::registry_corrupt);
        // The prefetch before the hash reads the same slots: a hint, never trusted.
        auto nothing = [] {};
        assert_code(registry->find_while("myapp01", found, keyauth::Meanwhile(nothing)),
                    Errc::registry_corrupt);
        std::string id;
        assert_code(registry->find_by_fingerprint(kFirst.certificate_fingerprint, id, found),
                    Errc::registry_corrupt);
        assert_false(registry->list().ok());
    }
}

// Two slots of the id table naming one record (no writer makes that) are a
// corrupt index to a walk, never a client listed twice.
void two_slots_naming_one_record_are_corrupt_to_a_walk(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(), [](RegistryWriter& w) {
        return put_client(w, "one", kFirst) && put_client(w, "two", kSecond);
    }));
    const int fd = open((temp.path() + "/lookup.idx").c_str(), O_RDWR);
    assert_true(fd >= 0);
    const IndexGeometry index(fd);
    std::uint64_t first_named[2] = {0, 0};
    rewrite_slots(fd, index, [&](unsigned copy, std::uint64_t word) {
        if (first_named[copy] == 0)
            first_named[copy] = word & kRecordIndexMask;
        return (word & ~kRecordIndexMask) | first_named[copy];
    });
    close(fd);
    auto registry = temp.open_reader();
    assert_non_null(registry.get());
    auto listed = registry->list();
    assert_false(listed.ok());
    assert_int_equal(listed.error().code, Errc::registry_corrupt);
}

// The index's find checks no id that equals the one looked up: that one is
// checked at the reader's entry. A record holding an id no writer accepts,
// planted in the slot that id would probe, is never found by it.
void an_invalid_id_is_refused_before_the_index_is_read(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    const std::string invalid = "my..p01";
    const int fd = open((temp.path() + "/lookup.idx").c_str(), O_RDWR);
    assert_true(fd >= 0);
    const IndexGeometry index(fd);
    assert_int_equal(pwrite(fd, invalid.data(), invalid.size(), index.heap() + 2),
                     static_cast<ssize_t>(invalid.size()));
    // The slot invalid's SipHash names, under the file's key (after the
    // magic, format, reserved, slots and heap size: 32 bytes in).
    unsigned char key[crypto_shorthash_KEYBYTES];
    assert_int_equal(pread(fd, key, sizeof key, 32), static_cast<ssize_t>(sizeof key));
    std::uint64_t hash = 0;
    crypto_shorthash(reinterpret_cast<unsigned char*>(&hash),
                     reinterpret_cast<const unsigned char*>(invalid.data()), invalid.size(), key);
    const auto home =
        static_cast<std::uint64_t>((static_cast<unsigned __int128>(hash) * index.slots) >> 64);
    const std::uint64_t tag = hash & ((std::uint64_t{1} << 24) - 1);
    // The id table (its first slots words) of each copy naming the record.
    std::vector<std::uint64_t> ids(index.slots);
    const auto bytes = static_cast<ssize_t>(ids.size() * 8);
    int planted = 0;
    for (unsigned copy = 0; copy < 2; ++copy) {
        assert_int_equal(pread(fd, ids.data(), bytes, index.tables(copy)), bytes);
        const auto named =
            std::find_if(ids.begin(), ids.end(), [](std::uint64_t w) { return w != 0; });
        if (named == ids.end())
            continue;  // the copy before the first commit
        ++planted;
        const std::uint64_t record = *named & kRecordIndexMask;
        *named = 0;
        ids[home] = tag << 40 | record;
        assert_int_equal(pwrite(fd, ids.data(), bytes, index.tables(copy)), bytes);
    }
    close(fd);
    assert_true(planted >= 1);
    auto registry = temp.open_reader();
    assert_non_null(registry.get());
    ClientCredentials found;
    assert_code(registry->find(invalid, found), Errc::unknown_client);
}

// A certificate's slot naming a record its id's slot does not (a replaced
// certificate's, left behind) is corrupt, never an admission of the old
// certificate: the two tables are checked against each other.
void a_certificate_slot_the_id_table_disagrees_with_is_corrupt(void**) {
    TempRegistry temp;
    assert_true(write_registry(temp.path(),
                               [](RegistryWriter& w) { return put_client(w, "myapp01", kFirst); }));
    // Rotated: one copy names kSecond's record, the other still kFirst's.
    assert_true(write_registry(
        temp.path(), [](RegistryWriter& w) { return put_client(w, "myapp01", kSecond, true); }));
    const int fd = open((temp.path() + "/lookup.idx").c_str(), O_RDWR);
    assert_true(fd >= 0);
    const IndexGeometry index(fd);
    // Each copy's certificate table given the other's slots it lacks.
    std::vector<std::uint64_t> tables[2];
    const auto bytes = static_cast<ssize_t>(index.slots * 16);
    for (unsigned copy = 0; copy < 2; ++copy) {
        tables[copy].resize(index.slots * 2);
        assert_int_equal(pread(fd, tables[copy].data(), bytes, index.tables(copy)), bytes);
    }
    int added = 0;
    for (unsigned copy = 0; copy < 2; ++copy) {
        std::vector<std::uint64_t> merged = tables[copy];
        for (std::uint64_t slot = index.slots; slot < 2 * index.slots; ++slot) {
            if (merged[slot] == 0 && tables[copy ^ 1][slot] != 0) {
                merged[slot] = tables[copy ^ 1][slot];
                ++added;
            }
        }
        assert_int_equal(pwrite(fd, merged.data(), bytes, index.tables(copy)), bytes);
    }
    close(fd);
    assert_int_equal(added, 2);
    auto registry = temp.open_reader();
    assert_non_null(registry.get());
    ClientCredentials found;
    std::string id;
    assert_code(registry->find_by_fingerprint(kFirst.certificate_fingerprint, id, found),
                Errc::registry_corrupt);
    assert_ok(registry->find_by_fingerprint(kSecond.certificate_fingerprint, id, found));
    assert_sv_equal(id, "myapp01");
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
    const std::string why =
        "is owned by " + keyauth::user_named(65534) + ", not by the registry's owner, root (uid 0)";
    assert_non_null(strstr(refused.error().message.c_str(), why.c_str()));
    assert_int_equal(chown(index.c_str(), getuid(), static_cast<gid_t>(-1)), 0);
    assert_non_null(temp.open_reader().get());
}

// Who may write a directory above the registry may rename it away and put
// their own in its place: refused as sshd refuses such a path, except for a
// sticky directory (/tmp), where only an entry's owner renames it.
void a_registry_under_a_directory_others_may_write_is_refused(void**) {
    TempDir outer;
    const std::string above = outer / "above";
    const std::string registry = above + "/registry";
    assert_int_equal(mkdir(above.c_str(), 0755), 0);
    assert_int_equal(mkdir(registry.c_str(), 0750), 0);
    assert_true(TempRegistry::create(registry));
    assert_true(RegistryReader::open(registry).ok());

    const auto refused_because = [&](const std::string& path, const char* why) {
        auto writer = LmdbRegistry::open(path, OpenMode::read_write);
        auto reader = RegistryReader::open(path);
        return !writer.ok() && !reader.ok() && strstr(writer.error().message.c_str(), why) &&
               strstr(reader.error().message.c_str(), why);
    };
    assert_int_equal(chmod(above.c_str(), 0777), 0);
    assert_true(refused_because(registry, "writable by its group or others"));
    assert_int_equal(chmod(above.c_str(), 0775), 0);
    assert_true(refused_because(registry, "writable by its group or others"));
    assert_int_equal(chmod(above.c_str(), 01777), 0);
    assert_true(RegistryReader::open(registry).ok());
    assert_true(LmdbRegistry::open(registry, OpenMode::read_write).ok());
    assert_int_equal(chmod(above.c_str(), 0755), 0);

    // Owned by someone else (nobody: uid 65534).
    assert_int_equal(chown(above.c_str(), 65534, static_cast<gid_t>(-1)), 0);
    assert_true(refused_because(registry, "owned by another user"));
    assert_int_equal(chown(above.c_str(), getuid(), static_cast<gid_t>(-1)), 0);

    // The path as configured: a link in a directory others may write.
    const std::string open_dir = outer / "open";
    assert_int_equal(mkdir(open_dir.c_str(), 0777), 0);
    assert_int_equal(chmod(open_dir.c_str(), 0777), 0);
    const std::string link = open_dir + "/registry";
    assert_int_equal(symlink(registry.c_str(), link.c_str()), 0);
    assert_true(refused_because(link, "writable by its group or others"));

    // The path the links lead to: a directory others may write on the way.
    const std::string deep = open_dir + "/deep";
    assert_int_equal(mkdir(deep.c_str(), 0755), 0);
    const std::string moved = deep + "/registry";
    assert_int_equal(rename(registry.c_str(), moved.c_str()), 0);
    const std::string shortcut = outer / "shortcut";
    assert_int_equal(symlink(deep.c_str(), shortcut.c_str()), 0);
    assert_true(refused_because(shortcut + "/registry", "writable by its group or others"));
    assert_int_equal(chmod(open_dir.c_str(), 0755), 0);
    assert_true(RegistryReader::open(shortcut + "/registry").ok());

    // A directory crossed only inside a link's target: on neither the path
    // as configured nor the one all the links lead to.
    const std::string mid = outer / "mid";
    assert_int_equal(mkdir(mid.c_str(), 0755), 0);
    assert_int_equal(symlink(deep.c_str(), (mid + "/sub").c_str()), 0);
    assert_int_equal(chown(mid.c_str(), 65534, static_cast<gid_t>(-1)), 0);
    const std::string configured = outer / "configured";
    assert_int_equal(symlink((mid + "/sub/registry").c_str(), configured.c_str()), 0);
    assert_true(refused_because(configured, "owned by another user"));

    // A link in a sticky directory that someone else owns, and so may replace.
    const std::string sticky = outer / "sticky";
    assert_int_equal(mkdir(sticky.c_str(), 0755), 0);
    assert_int_equal(chmod(sticky.c_str(), 01777), 0);
    const std::string theirs = sticky + "/registry";
    assert_int_equal(symlink(moved.c_str(), theirs.c_str()), 0);
    assert_true(RegistryReader::open(theirs).ok());
    assert_int_equal(lchown(theirs.c_str(), 65534, static_cast<gid_t>(-1)), 0);
    assert_true(refused_because(theirs, "owned by another user"));
}

// Every file of the registry, and the directory, given to uid.
void give_registry_to(const std::string& registry, uid_t uid) {
    assert_int_equal(chown(registry.c_str(), uid, static_cast<gid_t>(-1)), 0);
    for (const std::string& path : keyauth::RegistryLayout{registry}.group_readable_files())
        assert_int_equal(chown(path.c_str(), uid, static_cast<gid_t>(-1)), 0);
}

bool refused_because(const keyauth::Status& status, const std::string& why) {
    return !status.ok() && strstr(status.error().message.c_str(), why.c_str()) != nullptr;
}

template <typename T>
keyauth::Status status_of(const keyauth::Result<T>& result) {
    if (result.ok())
        return {};
    return result.error();
}

// Review 4, M-1: in a sticky directory others may write (/tmp) a name is
// whoever's made it first. A registry there that is neither root's nor the
// caller's is refused to every reader and writer; elsewhere a writer (root
// here) refuses a registry that is neither root's nor its own, a reader
// (a group member's keytool list) does not.
void a_registry_of_another_user_is_refused_where_it_could_be_theirs(void**) {
    const std::string nobody = keyauth::user_named(65534);
    TempDir outer;
    assert_int_equal(chmod(outer.path().c_str(), 0755), 0);
    const std::string sticky = outer / "sticky";
    assert_int_equal(mkdir(sticky.c_str(), 0755), 0);
    assert_int_equal(chmod(sticky.c_str(), 01777), 0);
    const std::string squatted = sticky + "/registry";
    assert_int_equal(mkdir(squatted.c_str(), 0750), 0);
    assert_true(TempRegistry::create(squatted));
    assert_true(RegistryReader::open(squatted).ok());

    give_registry_to(squatted, 65534);
    assert_true(refused_because(
        status_of(RegistryReader::open(squatted)),
        "registry " + squatted + " is owned by " + nobody + ", who made its path in " + sticky));
    assert_true(refused_because(status_of(LmdbRegistry::open(squatted, OpenMode::read_write)),
                                "is owned by " + nobody + ", neither root nor root (uid 0)"));
    assert_true(refused_because(
        keyauth::initialize_registry(keyauth::RegistryLayout{squatted}, keyauth::InitOptions{}),
        "exists and is owned by " + nobody + ", not by root (uid 0)"));

    // A directory of theirs in the sticky one, root's registry inside.
    const std::string theirs = sticky + "/theirs";
    assert_int_equal(mkdir(theirs.c_str(), 0755), 0);
    assert_int_equal(rename(squatted.c_str(), (theirs + "/registry").c_str()), 0);
    give_registry_to(theirs + "/registry", 0);
    assert_int_equal(chown(theirs.c_str(), 65534, static_cast<gid_t>(-1)), 0);
    assert_true(refused_because(status_of(RegistryReader::open(theirs + "/registry")),
                                "owned by another user"));

    // Outside any sticky directory: the writer refuses, a reader reads.
    const std::string elsewhere = outer / "registry";
    assert_int_equal(rename((theirs + "/registry").c_str(), elsewhere.c_str()), 0);
    give_registry_to(elsewhere, 65534);
    assert_true(RegistryReader::open(elsewhere).ok());
    assert_true(refused_because(status_of(LmdbRegistry::open(elsewhere, OpenMode::read_write)),
                                "neither root nor root (uid 0)"));

    // Root's registry in the sticky directory: everyone's to use.
    const std::string roots = sticky + "/roots";
    assert_int_equal(rename(elsewhere.c_str(), roots.c_str()), 0);
    give_registry_to(roots, 0);
    assert_true(RegistryReader::open(roots).ok());
    assert_true(RegistryReader::open_for_server(roots).ok());
    assert_true(LmdbRegistry::open(roots, OpenMode::read_write).ok());
}

// Review 4, L-1: a server refuses a registry its own user owns (it could
// write it) and one a server's user owns (www-data, nginx, mosquitto);
// other readers do not judge that.
void servers_refuse_a_registry_a_servers_user_owns(void**) {
    const std::string nobody = keyauth::user_named(65534);
    TempDir outer;
    assert_int_equal(chmod(outer.path().c_str(), 0755), 0);
    const std::string registry = outer / "registry";
    assert_int_equal(mkdir(registry.c_str(), 0755), 0);
    assert_true(TempRegistry::create(registry));
    for (const std::string& path : keyauth::RegistryLayout{registry}.served_files())
        assert_int_equal(chmod(path.c_str(), 0644), 0);
    assert_true(RegistryReader::open_for_server(registry).ok());

    give_registry_to(registry, 65534);
    assert_true(RegistryReader::open_for_server(registry).ok());  // no server's user
    assert_int_equal(seteuid(65534), 0);
    const keyauth::Status as_owner = status_of(RegistryReader::open_for_server(registry));
    const bool read_as_owner = RegistryReader::open(registry).ok();
    assert_int_equal(seteuid(0), 0);
    assert_true(
        refused_because(as_owner, "is owned by " + nobody + ", the user this server runs as"));
    assert_true(read_as_owner);

    for (const char* server : keyauth::kServerUsers) {
        const struct passwd* user = getpwnam(server);
        if (user == nullptr)
            continue;
        give_registry_to(registry, user->pw_uid);
        assert_true(refused_because(
            status_of(RegistryReader::open_for_server(registry)),
            std::string(server) + " (uid " + std::to_string(user->pw_uid) + "), a server's user"));
        assert_true(RegistryReader::open(registry).ok());
    }
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_gives_every_client_in_id_order),
        cmocka_unit_test(empty_registry_lists_nothing),
        cmocka_unit_test(a_walk_in_ranges_is_the_owners_walk),
        cmocka_unit_test(a_walk_holds_one_range_at_a_time),
        cmocka_unit_test(a_walk_maps_no_page_of_the_table_or_heap),
        cmocka_unit_test(a_walk_follows_an_index_replaced_since_it_was_mapped),
        cmocka_unit_test(a_commit_between_ranges_starts_the_walk_over),
        cmocka_unit_test(a_walk_a_commit_meets_every_time_gives_up),
        cmocka_unit_test(find_by_fingerprint_names_the_owner),
        cmocka_unit_test(find_refuses_ids_that_cannot_exist),
        cmocka_unit_test(find_while_runs_its_work_once_and_answers_as_find),
        cmocka_unit_test(reader_sees_commits_on_next_lookup),
        cmocka_unit_test(read_only_open_of_missing_dir_is_not_found),
        cmocka_unit_test(read_only_open_without_data_mdb_is_not_found),
        cmocka_unit_test(read_only_open_of_lmdb_without_tables_is_not_found),
        cmocka_unit_test(open_of_a_file_is_refused),
        cmocka_unit_test(generation_changes_after_a_commit),
        cmocka_unit_test(replaced_registry_is_noticed_within_300ms),
        cmocka_unit_test(replaced_registry_with_the_same_history_is_read_afresh),
        cmocka_unit_test(removed_registry_fails_closed_then_recovers),
        cmocka_unit_test(readers_are_not_blocked_by_an_open_write),
        cmocka_unit_test(a_writer_stopped_or_killed_anywhere_never_holds_up_readers),
        cmocka_unit_test(a_reader_on_an_index_a_killed_writer_replaced_follows_the_path),
        cmocka_unit_test(find_while_follows_a_grown_index),
        cmocka_unit_test(three_hundred_readers_at_once),
        cmocka_unit_test(a_registry_others_may_write_is_refused),
        cmocka_unit_test(a_registry_under_a_directory_others_may_write_is_refused),
        cmocka_unit_test(a_registry_of_another_user_is_refused_where_it_could_be_theirs),
        cmocka_unit_test(servers_refuse_a_registry_a_servers_user_owns),
        cmocka_unit_test(corrupt_lookup_index_is_reported_not_trusted),
        cmocka_unit_test(hostile_index_bytes_are_reported_never_followed),
        cmocka_unit_test(two_slots_naming_one_record_are_corrupt_to_a_walk),
        cmocka_unit_test(an_invalid_id_is_refused_before_the_index_is_read),
        cmocka_unit_test(a_certificate_slot_the_id_table_disagrees_with_is_corrupt),
        cmocka_unit_test(an_index_of_format_3_is_refused_then_replaced_by_the_next_write),
    };
    return run_group(tests);
}
