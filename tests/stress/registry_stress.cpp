// Readers that cannot write, checked against ground truth while a writer
// commits as fast as it can, and timed.
//
//   registry_stress DIR SECONDS READERS [IDS [REBUILD-EVERY]]
//
// The writer process registers, deletes and replaces (gen, del, gen --force)
// clients of a small working set, publishing each change in shared memory
// before ("pending") and after ("done") its commit. Every record's fields
// are derived from (client, version), so a torn or reused page cannot pass
// for a real record. Each reader process looks clients up by id and by
// certificate fingerprint through RegistryReader (the servers' path, with
// the lookup cache) and checks every answer:
//  - the record is exactly the one its version derives;
//  - its version lies between the done state before the lookup and the
//    pending state after it (no resurrection, no missed revocation);
//  - with no change in flight, the answer is exactly the truth.
// With REBUILD-EVERY = N, every Nth commit empties the registry and puts
// every present client back at the version it has (keyauth-sync's rebuild:
// a refill of the copy, not a journal), so the truth does not move and a
// reader must find every present client throughout.
//
// Latency: every lookup is timed (steady_clock around the call: a few tens
// of ns of each figure are the clock itself) into a log-linear histogram; the test
// also reads commit.seq's counter itself before and after each lookup, so
// it knows which lookups overlapped a publish. A reader reads the index
// again only when the counter moved while it read, so those are an upper
// bound on the retries; the product is not instrumented. The writer's
// commits are timed too. The percentiles are wall clock: with more
// processes than CPUs they include the time a reader was descheduled
// (involuntary context switches are reported beside them).
//
// Exits 0 only if no answer was wrong and no process crashed.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

#include "keyauth/lmdb_registry.hpp"
#include "keyauth/provisioning.hpp"
#include "keyauth/registry_layout.hpp"
#include "keyauth/registry_reader.hpp"

namespace {

using keyauth::ClientCredentials;
using keyauth::Errc;
using keyauth::LmdbRegistry;
using keyauth::RegistryReader;

// version << 1 | present
struct Truth {
    std::atomic<std::uint64_t> done{0};
    std::atomic<std::uint64_t> pending{0};
};

// Nanoseconds, log-linear: 16 buckets per power of two (error < 6.25 %).
struct Histogram {
    static constexpr unsigned kSub = 4;
    // Exactly the buckets bucket() can name (top bit 63 at most): no shift past 63.
    static constexpr unsigned kBuckets = (64 - kSub + 1) << kSub;
    std::uint64_t count[kBuckets] = {};
    std::uint64_t max = 0;
    std::uint64_t total = 0;

    static unsigned bucket(std::uint64_t ns) {
        if (ns < (1u << kSub))
            return static_cast<unsigned>(ns);
        const unsigned top = 63 - static_cast<unsigned>(__builtin_clzll(ns));
        return ((top - kSub + 1) << kSub) |
               static_cast<unsigned>((ns >> (top - kSub)) & ((1u << kSub) - 1));
    }
    // The bucket's upper bound: percentiles are never understated.
    static std::uint64_t upper(unsigned b) {
        if (b < (1u << kSub))
            return b;
        const unsigned top = (b >> kSub) + kSub - 1;
        const std::uint64_t low =
            (std::uint64_t{1} << top) |
            (static_cast<std::uint64_t>(b & ((1u << kSub) - 1)) << (top - kSub));
        return low + (std::uint64_t{1} << (top - kSub)) - 1;
    }
    void add(std::uint64_t ns) {
        ++count[bucket(ns)];
        ++total;
        if (ns > max)
            max = ns;
    }
    std::uint64_t percentile(double p) const {
        if (total == 0)
            return 0;
        const auto rank = static_cast<std::uint64_t>(p * static_cast<double>(total) + 0.5);
        std::uint64_t seen = 0;
        for (unsigned b = 0; b < kBuckets; ++b) {
            seen += count[b];
            if (seen >= rank && seen > 0)
                return std::min(upper(b), max);
        }
        return max;
    }
};

// Into shared memory, at the end.
struct SharedHistogram {
    std::atomic<std::uint64_t> count[Histogram::kBuckets];
    std::atomic<std::uint64_t> max;
    std::atomic<std::uint64_t> total;

    void merge(const Histogram& h) {
        for (unsigned b = 0; b < Histogram::kBuckets; ++b) {
            if (h.count[b] != 0)
                count[b].fetch_add(h.count[b]);
        }
        total.fetch_add(h.total);
        std::uint64_t seen = max.load();
        while (h.max > seen && !max.compare_exchange_weak(seen, h.max)) {
        }
    }
    Histogram get() const {
        Histogram h;
        for (unsigned b = 0; b < Histogram::kBuckets; ++b)
            h.count[b] = count[b].load();
        h.max = max.load();
        h.total = total.load();
        return h;
    }
};

struct Shared {
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> commits{0};
    std::atomic<std::uint64_t> rebuilds{0};
    std::atomic<std::uint64_t> lookups{0};
    std::atomic<std::uint64_t> wrong{0};
    std::atomic<std::uint64_t> involuntary_switches{0};
    SharedHistogram quiet;       // lookups the counter did not move during
    SharedHistogram overlapped;  // lookups a publish overlapped (may have read twice)
    SharedHistogram commit;      // the writer's begin_write .. commit
    SharedHistogram rebuild;
    Truth truth[1];  // really ids entries
};

std::uint64_t nanos() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

// commit.seq's counter, read the way a reader reads it (the file's layout:
// 8 bytes of magic, then the counter).
class Counter {
  public:
    explicit Counter(const std::string& dir) {
        const std::string path = keyauth::RegistryLayout{dir}.commit_sequence();
        const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return;
        void* map = mmap(nullptr, 16, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (map != MAP_FAILED)
            word_ = reinterpret_cast<const std::uint64_t*>(static_cast<const char*>(map) + 8);
    }
    bool ok() const { return word_ != nullptr; }
    std::uint64_t load() const { return __atomic_load_n(word_, __ATOMIC_ACQUIRE); }

  private:
    const std::uint64_t* word_ = nullptr;
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

// Empties the registry and puts every present client back as it is: the
// truth does not move.
void rebuild(LmdbRegistry& registry, Shared& shared, std::size_t ids) {
    auto writer = registry.begin_write();
    if (!writer)
        die("writer: " + writer.error().message);
    if (keyauth::Status s = (*writer)->erase_all(); !s)
        die("writer: " + s.error().message);
    for (std::size_t index = 0; index < ids; ++index) {
        const std::uint64_t now = shared.truth[index].done.load();
        if (now & 1) {
            if (keyauth::Status s = (*writer)->put({id_of(index), derive(index, now >> 1)}, false);
                !s) {
                die("writer: " + s.error().message);
            }
        }
    }
    if (keyauth::Status s = (*writer)->commit(); !s)
        die("writer: " + s.error().message);
}

void run_writer(const std::string& dir, Shared& shared, std::size_t ids,
                std::uint64_t rebuild_every) {
    auto registry = LmdbRegistry::open(dir, keyauth::OpenMode::read_write);
    if (!registry)
        die("writer: " + registry.error().message);
    std::mt19937_64 rng(getpid());
    Histogram commits;
    Histogram rebuilds;
    while (!shared.stop.load(std::memory_order_relaxed)) {
        if (rebuild_every != 0 && commits.total % rebuild_every == rebuild_every - 1) {
            const std::uint64_t started = nanos();
            rebuild(**registry, shared, ids);
            rebuilds.add(nanos() - started);
            shared.rebuilds.fetch_add(1, std::memory_order_relaxed);
        }
        const std::uint64_t started = nanos();
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
        commits.add(nanos() - started);
        shared.commits.fetch_add(1, std::memory_order_relaxed);
    }
    shared.commit.merge(commits);
    shared.rebuild.merge(rebuilds);
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
    const Counter counter(dir);
    if (!counter.ok())
        die("reader: cannot map commit.seq");
    std::mt19937_64 rng(seed);
    std::uint64_t local = 0;
    ClientCredentials found;
    std::string owner;
    Histogram quiet;
    Histogram overlapped;
    // Half the lookups by id as the token check makes them (find_while).
    auto no_work = [] {};
    while (!shared.stop.load(std::memory_order_relaxed)) {
        const std::size_t index = rng() % ids;
        Truth& truth = shared.truth[index];
        const std::uint64_t before = truth.done.load();
        const bool by_fingerprint = (local & 3) == 3 && (before & 1);
        const ClientCredentials expected =
            by_fingerprint ? derive(index, before >> 1) : ClientCredentials{};
        const std::string id = id_of(index);
        const std::uint64_t published_before = counter.load();
        const std::uint64_t started = nanos();
        const keyauth::Status status =
            by_fingerprint
                ? (*registry)->find_by_fingerprint(expected.certificate_fingerprint, owner, found)
                : (local & 1) ? (*registry)->find_while(id, found, keyauth::Meanwhile(no_work))
                              : (*registry)->find(id, found);
        const std::uint64_t took = nanos() - started;
        const std::uint64_t published_after = counter.load();
        const std::uint64_t after = truth.pending.load();
        (published_after == published_before ? quiet : overlapped).add(took);
        if (by_fingerprint && status.ok() && owner != id)
            wrong(shared, "fingerprint owner", index, before, after, found.issued_at);
        else
            check(shared, by_fingerprint ? "by fingerprint" : "by id", index, before, after, status,
                  found);
        if ((++local & 1023) == 0)
            shared.lookups.fetch_add(1024, std::memory_order_relaxed);
    }
    shared.lookups.fetch_add(local & 1023, std::memory_order_relaxed);
    shared.quiet.merge(quiet);
    shared.overlapped.merge(overlapped);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    shared.involuntary_switches.fetch_add(static_cast<std::uint64_t>(usage.ru_nivcsw));
}

std::uint64_t above(const Histogram& h, std::uint64_t ns) {
    std::uint64_t n = 0;
    for (unsigned b = 0; b < Histogram::kBuckets; ++b) {
        if (Histogram::upper(b) >= ns)  // the bucket holding ns counts as above
            n += h.count[b];
    }
    return n;
}

void print_latency(const char* what, const Histogram& h) {
    auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
    std::printf("  %-30s %11" PRIu64
                "  p50 %7.2f  p99 %7.2f  p99.9 %8.2f  p99.99 %9.2f  max %9.1f us;"
                "  >=10us %" PRIu64 ", >=100us %" PRIu64 ", >=1ms %" PRIu64 "\n",
                what, h.total, us(h.percentile(0.5)), us(h.percentile(0.99)),
                us(h.percentile(0.999)), us(h.percentile(0.9999)), us(h.max), above(h, 10000),
                above(h, 100000), above(h, 1000000));
}

Histogram combined(const Histogram& a, const Histogram& b) {
    Histogram h = a;
    for (unsigned i = 0; i < Histogram::kBuckets; ++i)
        h.count[i] += b.count[i];
    h.total += b.total;
    h.max = std::max(a.max, b.max);
    return h;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: registry_stress DIR SECONDS READERS [IDS [REBUILD-EVERY]]\n");
        return 2;
    }
    const std::string dir = argv[1];
    const int seconds = std::atoi(argv[2]);
    const int readers = std::atoi(argv[3]);
    const std::size_t ids = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 64;
    const std::uint64_t rebuild_every = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 0;
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
                run_writer(dir, *shared, ids, rebuild_every);
            else
                run_reader(dir, *shared, ids, static_cast<unsigned>(r));
            _exit(0);
        }
        children.push_back(pid);
    }
    const auto start = std::chrono::steady_clock::now();
    // Meanwhile: how many times a new lookup.idx replaced the one readers had.
    const std::string index_path = keyauth::RegistryLayout{dir}.lookup_index();
    std::uint64_t new_files = 0;
    ino_t inode = 0;
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(seconds)) {
        struct stat st {};
        if (stat(index_path.c_str(), &st) == 0) {
            if (inode != 0 && st.st_ino != inode)
                ++new_files;
            inode = st.st_ino;
        }
        usleep(5000);
    }
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
    std::printf("%" PRIu64 " lookups by %d readers, %" PRIu64 " commits (%" PRIu64
                " rebuilds), %" PRIu64
                " wrong answers, %s, in %.1f s (%.0f lookups/s, %.0f commits/s)\n",
                shared->lookups.load(), readers, shared->commits.load(), shared->rebuilds.load(),
                shared->wrong.load(), crashed ? "a process crashed" : "no crash", elapsed,
                static_cast<double>(shared->lookups.load()) / elapsed,
                static_cast<double>(shared->commits.load()) / elapsed);
    std::printf("lookup.idx replaced by a new file (growth) %" PRIu64
                " times (seen by polling every 5 ms)\n",
                new_files);
    const Histogram quiet = shared->quiet.get();
    const Histogram overlapped = shared->overlapped.get();
    std::printf("latency per lookup (wall clock; %" PRIu64
                " involuntary context switches in the readers):\n",
                shared->involuntary_switches.load());
    print_latency("all lookups", combined(quiet, overlapped));
    print_latency("no publish meanwhile", quiet);
    print_latency("a publish meanwhile (retry?)", overlapped);
    std::printf("  retries: at most %" PRIu64 " (%.4f %% of lookups: those a publish overlapped)\n",
                overlapped.total,
                quiet.total + overlapped.total == 0
                    ? 0.0
                    : 100.0 * static_cast<double>(overlapped.total) /
                          static_cast<double>(quiet.total + overlapped.total));
    print_latency("commit (writer)", shared->commit.get());
    if (shared->rebuilds.load() != 0)
        print_latency("rebuild (writer)", shared->rebuild.get());
    return shared->wrong.load() == 0 && !crashed && shared->commits.load() > 0 ? 0 : 1;
}
