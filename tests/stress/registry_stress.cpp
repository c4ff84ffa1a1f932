// Readers that cannot write, checked against ground truth while a writer
// commits as fast as it can.
//
//   registry_stress DIR SECONDS READERS [IDS]
//
// The writer process registers, deletes and replaces (gen, del, gen --force)
// clients of a small working set, publishing each change in shared memory
// before ("pending") and after ("done") its commit. Every record's fields
// are derived from (client, version), so a torn or reused page cannot pass
// for a real record. Each reader process looks clients up by id and by
// certificate fingerprint through LmdbRegistry in read-only mode (the
// servers' path, with the lookup cache) and checks every answer:
//  - the record is exactly the one its version derives;
//  - its version lies between the done state before the lookup and the
//    pending state after it (no resurrection, no missed revocation);
//  - with no change in flight, the answer is exactly the truth.
// Exits 0 only if no answer was wrong and no process crashed.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "keyauth/provisioning.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "keyauth/registry_reader.hpp"

namespace {

using keyauth::RegistryReader;
using keyauth::ClientCredentials;
using keyauth::Errc;
using keyauth::LmdbRegistry;

// version << 1 | present
struct Truth {
    std::atomic<std::uint64_t> done{0};
    std::atomic<std::uint64_t> pending{0};
};

struct Shared {
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> commits{0};
    std::atomic<std::uint64_t> lookups{0};
    std::atomic<std::uint64_t> wrong{0};
    Truth truth[1];  // really ids entries
};

std::uint64_t splitmix(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

std::string id_of(std::size_t index) {
    return "client" + std::to_string(index);
}

ClientCredentials derive(std::size_t index, std::uint64_t version) {
    ClientCredentials c;
    std::uint64_t state = (static_cast<std::uint64_t>(index) << 40) ^ version;
    for (std::size_t i = 0; i < c.token_hash.bytes.size(); i += 8) {
        const std::uint64_t word = splitmix(state);
        std::memcpy(&c.token_hash.bytes[i], &word, 8);
    }
    for (std::size_t i = 0; i < c.certificate_fingerprint.bytes.size(); i += 8) {
        const std::uint64_t word = splitmix(state);
        std::memcpy(&c.certificate_fingerprint.bytes[i], &word, 8);
    }
    c.serial.length = 8;
    std::memcpy(c.serial.bytes.data(), &version, 8);
    c.validity.not_before = static_cast<std::int64_t>(version);
    c.validity.not_after = static_cast<std::int64_t>(version) + 1000000000;
    c.issued_at = static_cast<std::int64_t>(version);
    return c;
}

bool same(const ClientCredentials& a, const ClientCredentials& b) {
    return a.token_hash.bytes == b.token_hash.bytes &&
           a.certificate_fingerprint == b.certificate_fingerprint &&
           a.serial.length == b.serial.length && a.serial.bytes == b.serial.bytes &&
           a.validity.not_before == b.validity.not_before &&
           a.validity.not_after == b.validity.not_after && a.issued_at == b.issued_at;
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "registry_stress: %s\n", what.c_str());
    std::exit(2);
}

void run_writer(const std::string& dir, Shared& shared, std::size_t ids) {
    auto registry = LmdbRegistry::open(dir, keyauth::OpenMode::read_write);
    if (!registry)
        die("writer: " + registry.error().message);
    std::mt19937_64 rng(getpid());
    while (!shared.stop.load(std::memory_order_relaxed)) {
        const std::size_t index = rng() % ids;
        Truth& truth = shared.truth[index];
        const std::uint64_t now = truth.done.load();
        const std::uint64_t version = (now >> 1) + 1;
        const bool present = now & 1;
        // Absent: gen. Present: del or gen --force, half and half.
        const bool next_present = !present || (rng() & 1);
        truth.pending.store(version << 1 | (next_present ? 1 : 0));
        auto writer = (*registry)->begin_write();
        if (!writer)
            die("writer: " + writer.error().message);
        keyauth::Status changed;
        if (next_present) {
            changed = (*writer)->put({id_of(index), derive(index, version)}, present);
        } else {
            changed = (*writer)->erase(id_of(index));
        }
        if (!changed)
            die("writer: " + changed.error().message);
        if (keyauth::Status s = (*writer)->commit(); !s)
            die("writer: " + s.error().message);
        truth.done.store(version << 1 | (next_present ? 1 : 0));
        shared.commits.fetch_add(1, std::memory_order_relaxed);
    }
}

void wrong(Shared& shared, const char* what, std::size_t index, std::uint64_t before,
           std::uint64_t after, std::int64_t seen) {
    if (shared.wrong.fetch_add(1) < 20) {
        std::fprintf(stderr,
                     "WRONG %s: %s truth before v%" PRIu64 "/%d, pending after v%" PRIu64
                     "/%d, answered v%" PRId64 "\n",
                     what, id_of(index).c_str(), before >> 1, static_cast<int>(before & 1),
                     after >> 1, static_cast<int>(after & 1), seen);
    }
}

// An answer is right if it is the state of some version between the truth
// before the lookup and the pending change after it.
void check(Shared& shared, const char* what, std::size_t index, std::uint64_t before,
           std::uint64_t after, const keyauth::Status& status, const ClientCredentials& found) {
    if (status.ok()) {
        const auto version = static_cast<std::uint64_t>(found.issued_at);
        if (!same(found, derive(index, version)) || version < (before >> 1) ||
            version > (after >> 1) || (version == (before >> 1) && !(before & 1))) {
            wrong(shared, what, index, before, after, found.issued_at);
        }
    } else if (status.code() != Errc::unknown_client) {
        std::fprintf(stderr, "reader: %s\n", status.error().message.c_str());
        wrong(shared, what, index, before, after, -2);
    } else if (before == after && (before & 1)) {
        wrong(shared, what, index, before, after, -1);  // a live client refused
    }
}

void run_reader(const std::string& dir, Shared& shared, std::size_t ids, unsigned seed) {
    auto registry = RegistryReader::open(dir);
    if (!registry)
        die("reader: " + registry.error().message);
    std::mt19937_64 rng(seed);
    std::uint64_t local = 0;
    ClientCredentials found;
    std::string owner;
    while (!shared.stop.load(std::memory_order_relaxed)) {
        const std::size_t index = rng() % ids;
        Truth& truth = shared.truth[index];
        const std::uint64_t before = truth.done.load();
        if ((local & 3) == 3 && (before & 1)) {
            // By fingerprint: the certificate of the version seen before.
            const ClientCredentials expected = derive(index, before >> 1);
            const keyauth::Status status =
                (*registry)->find_by_fingerprint(expected.certificate_fingerprint, owner, found);
            const std::uint64_t after = truth.pending.load();
            if (status.ok() && owner != id_of(index))
                wrong(shared, "fingerprint owner", index, before, after, found.issued_at);
            else
                check(shared, "by fingerprint", index, before, after, status, found);
        } else {
            const keyauth::Status status = (*registry)->find(id_of(index), found);
            const std::uint64_t after = truth.pending.load();
            check(shared, "by id", index, before, after, status, found);
        }
        if ((++local & 1023) == 0)
            shared.lookups.fetch_add(1024, std::memory_order_relaxed);
    }
    shared.lookups.fetch_add(local & 1023, std::memory_order_relaxed);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: registry_stress DIR SECONDS READERS [IDS]\n");
        return 2;
    }
    const std::string dir = argv[1];
    const int seconds = std::atoi(argv[2]);
    const int readers = std::atoi(argv[3]);
    const std::size_t ids = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 64;
    if (seconds <= 0 || readers <= 0 || ids == 0)
        die("bad arguments");

    if (keyauth::Status s =
            keyauth::initialize_registry(keyauth::RegistryLayout{dir}, keyauth::InitOptions{});
        !s) {
        die("init: " + s.error().message);
    }
    const std::size_t bytes = sizeof(Shared) + ids * sizeof(Truth);
    void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
        die("mmap");
    auto* shared = new (memory) Shared();
    for (std::size_t i = 1; i < ids; ++i)
        new (&shared->truth[i]) Truth();

    std::vector<pid_t> children;
    for (int r = 0; r <= readers; ++r) {
        const pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            if (r == 0)
                run_writer(dir, *shared, ids);
            else
                run_reader(dir, *shared, ids, static_cast<unsigned>(r));
            _exit(0);
        }
        children.push_back(pid);
    }
    const auto start = std::chrono::steady_clock::now();
    sleep(static_cast<unsigned>(seconds));
    shared->stop = true;
    bool crashed = false;
    for (pid_t pid : children) {
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "%s %d ended abnormally (status %#x)\n",
                         pid == children.front() ? "the writer" : "reader", pid, status);
            crashed = true;
        }
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%" PRIu64 " lookups by %d readers, %" PRIu64 " commits, %" PRIu64
                " wrong answers, %s, in %.1f s (%.0f lookups/s, %.0f commits/s)\n",
                shared->lookups.load(), readers, shared->commits.load(), shared->wrong.load(),
                crashed ? "a process crashed" : "no crash", elapsed,
                static_cast<double>(shared->lookups.load()) / elapsed,
                static_cast<double>(shared->commits.load()) / elapsed);
    return shared->wrong.load() == 0 && !crashed && shared->commits.load() > 0 ? 0 : 1;
}
