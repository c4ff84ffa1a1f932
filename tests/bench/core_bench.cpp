// Core micro-benchmarks: what one token or certificate check costs on a
// registry of 1 000, 100 000 and 1 000 000 clients, and what keytool gen/del
// cost as a spawned process on those registries.
//
//   core_bench [--registry-cache DIR] [--sizes 1000,100000,1000000]
//              [--keytool PATH] [--keytool-runs N] [--no-keytool]
//              [--populate-only] [--all-tokens] [--smoke] [benchmark flags...]
//
// --all-tokens: a registry made now also keeps every client's token in
// bench-all-tokens.txt (a different client per request or CONNECT at any size).
//
// Each registry is made once, by keytool's own code path (initialize_registry,
// then one write transaction of real records: real token hashes from
// generate_token, random certificate fingerprints, plus a few real issued
// certificates) and cached in DIR/clients-N for the next run. The checks read
// it read-only, as the broker and NGINX workers do.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "keyauth/authenticator.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/provisioning.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "keyauth/registry_reader.hpp"
#include "keyauth/token.hpp"
#include "keyauth/x509_authority.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using keyauth::RegistryReader;
using keyauth::Fingerprint;
using keyauth::LmdbRegistry;

constexpr std::size_t kSampleSize = 4096;     // tokens and fingerprints checked in turn
constexpr std::size_t kRealCertificates = 8;  // issued for real, spread through the registry
constexpr std::size_t kRandomIds = 65536;     // ids looked up uniformly over the registry
constexpr const char* kCompleteMarker = "bench-complete";
constexpr int kFormatVersion = 1;

struct Options {
    std::string cache_dir;
    std::vector<std::size_t> sizes = {1000, 100000, 1000000};
    std::string keytool = KEYAUTH_BENCH_KEYTOOL;
    int keytool_runs = 50;
    bool keytool_enabled = true;
    bool populate_only = false;
    bool all_tokens = false;  // every client's token in bench-all-tokens.txt
    bool smoke = false;
};

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "core_bench: %s\n", message.c_str());
    std::exit(2);
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string client_id(std::size_t index) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "bench%07zu", index);
    return buffer;
}

bool exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

void write_file(const std::string& path, const std::string& content, mode_t mode) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        die("cannot write " + path + ": " + std::strerror(errno));
    const bool ok =
        write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    close(fd);
    if (!ok)
        die("cannot write " + path);
    chmod(path.c_str(), mode);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        die("cannot read " + path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Runs argv to completion with stdout/stderr discarded; returns its exit status.
int run_quietly(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        return -1;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// One registry of `clients` clients, and what the benchmarks check against it.
struct BenchRegistry {
    std::size_t clients = 0;
    std::string dir;
    std::unique_ptr<RegistryReader> reader;        // read-only, as the servers open it
    std::vector<std::string> valid_tokens;       // sample of issued tokens
    std::vector<std::string> wrong_tokens;       // same ids, another secret
    std::vector<Fingerprint> fingerprints;       // sample of registered fingerprints
    std::vector<keyauth::X509Ptr> certificates;  // real, registered certificates
    std::vector<std::string> random_ids;         // uniform over all ids
    std::vector<Fingerprint> random_fingerprints;  // the random ids' certificates
    std::vector<std::string> random_wrong_tokens;  // the random ids, each with another secret
};

// Makes DIR: the CA and server certificate, then every client in one
// transaction, in a shuffled order (ids are not issued in sorted order, and
// LMDB packs sorted inserts tighter than real life would).
void populate(const Options& options, std::size_t clients, const std::string& dir) {
    if (exists(dir))
        run_quietly({"/bin/rm", "-rf", dir});
    const auto total_start = Clock::now();
    const keyauth::RegistryLayout layout{dir};
    if (auto s = keyauth::initialize_registry(layout, keyauth::InitOptions{}); !s) {
        die("init " + dir + ": " + s.error().message);
    }
    auto authority = keyauth::load_authority(layout);
    if (!authority)
        die("CA of " + dir + ": " + authority.error().message);
    auto registry = LmdbRegistry::open(dir, keyauth::OpenMode::read_write);
    if (!registry)
        die("open " + dir + ": " + registry.error().message);

    std::mt19937_64 rng(clients);
    std::vector<std::size_t> order(clients);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    // Which clients end up in the sample, and which get a real certificate.
    const std::size_t sample = std::min(kSampleSize, clients);
    std::vector<char> in_sample(clients, 0);
    for (std::size_t i = 0; i < sample; ++i)
        in_sample[order[i]] = 1;
    std::vector<char> real_certificate(clients, 0);
    for (std::size_t i = 0; i < std::min(kRealCertificates, clients); ++i) {
        real_certificate[order[i]] = 1;
    }
    std::shuffle(order.begin(), order.end(), rng);

    const std::int64_t now = keyauth::unix_now();
    std::string tokens_file;
    std::string all_tokens_file;
    std::string fingerprints_file;
    std::string certificates_file;
    const auto write_start = Clock::now();
    auto writer = registry.value()->begin_write();
    if (!writer)
        die("begin_write: " + writer.error().message);
    for (const std::size_t index : order) {
        keyauth::ClientRecord record;
        record.id = client_id(index);
        auto token = keyauth::generate_token(record.id);
        auto& c = record.credentials;
        c.token_hash = token.hash;
        c.issued_at = now;
        c.validity = {now - 60, now + std::int64_t{1095} * 86400};
        if (real_certificate[index]) {
            auto issued = authority->issue_client(record.id, keyauth::kDefaultClientDays, now);
            if (!issued)
                die("issue " + record.id + ": " + issued.error().message);
            c.certificate_fingerprint = issued->fingerprint;
            c.serial = issued->serial;
            c.validity = issued->validity;
            certificates_file += issued->certificate_pem;
        } else {
            randombytes_buf(c.certificate_fingerprint.bytes.data(),
                            c.certificate_fingerprint.bytes.size());
            c.serial.length = 16;
            randombytes_buf(c.serial.bytes.data(), c.serial.length);
            c.serial.bytes[0] &= 0x7f;
        }
        if (options.all_tokens)
            all_tokens_file.append(token.text.view()).append("\n");
        if (in_sample[index]) {
            tokens_file.append(token.text.view()).append("\n");
            fingerprints_file.append(
                reinterpret_cast<const char*>(c.certificate_fingerprint.bytes.data()),
                c.certificate_fingerprint.bytes.size());
        }
        if (auto s = writer.value()->put(record, false); !s)
            die("put: " + s.error().message);
    }
    const double generate_seconds = seconds_since(write_start);
    const auto commit_start = Clock::now();
    if (auto s = writer.value()->commit(); !s)
        die("commit: " + s.error().message);
    const double commit_seconds = seconds_since(commit_start);
    const double total_seconds = seconds_since(total_start);

    write_file(dir + "/bench-tokens.txt", tokens_file, 0600);
    write_file(dir + "/bench-fingerprints.bin", fingerprints_file, 0600);
    if (options.all_tokens)
        write_file(dir + "/bench-all-tokens.txt", all_tokens_file, 0600);
    write_file(dir + "/bench-certificates.pem", certificates_file, 0644);
    struct stat st {};
    stat((dir + "/data.mdb").c_str(), &st);
    char summary[512];
    std::snprintf(summary, sizeof summary,
                  "version=%d\nclients=%zu\npopulate_seconds=%.3f\nput_seconds=%.3f\n"
                  "commit_seconds=%.3f\ndata_mdb_bytes=%lld\nbytes_per_client=%.1f\n",
                  kFormatVersion, clients, total_seconds, generate_seconds, commit_seconds,
                  static_cast<long long>(st.st_size),
                  static_cast<double>(st.st_size) / static_cast<double>(clients));
    write_file(dir + "/" + kCompleteMarker, summary, 0644);
    std::fprintf(stderr,
                 "core_bench: populated %zu clients in %.2f s (puts %.2f s, commit %.2f s), "
                 "data.mdb %lld bytes = %.1f bytes/client\n",
                 clients, total_seconds, generate_seconds, commit_seconds,
                 static_cast<long long>(st.st_size),
                 static_cast<double>(st.st_size) / static_cast<double>(clients));
}

bool cache_is_complete(const std::string& dir, std::size_t clients) {
    const std::string marker = dir + "/" + kCompleteMarker;
    if (!exists(marker))
        return false;
    const std::string text = read_file(marker);
    char expected[64];
    std::snprintf(expected, sizeof expected, "version=%d\nclients=%zu\n", kFormatVersion, clients);
    return text.rfind(expected, 0) == 0;
}

std::vector<keyauth::X509Ptr> split_certificates(const std::string& pem) {
    std::vector<keyauth::X509Ptr> out;
    constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = pem.find(kEnd, start);
        if (end == std::string::npos)
            break;
        auto cert = keyauth::parse_certificate_pem(
            std::string_view(pem).substr(start, end + kEnd.size() - start));
        if (!cert)
            die("bench certificate: " + cert.error().message);
        out.push_back(std::move(cert.value()));
        start = end + kEnd.size();
    }
    return out;
}

std::unique_ptr<BenchRegistry> prepare(const Options& options, std::size_t clients) {
    auto bench = std::make_unique<BenchRegistry>();
    bench->clients = clients;
    bench->dir = options.cache_dir + "/clients-" + std::to_string(clients);
    if (!cache_is_complete(bench->dir, clients)) {
        std::fprintf(stderr, "core_bench: populating %s ...\n", bench->dir.c_str());
        populate(options, clients, bench->dir);
    } else {
        std::fprintf(stderr, "core_bench: reusing %s (%s)\n", bench->dir.c_str(),
                     read_file(bench->dir + "/" + kCompleteMarker).substr(0).c_str());
    }
    auto reader = RegistryReader::open(bench->dir);
    if (!reader)
        die("open " + bench->dir + ": " + reader.error().message);
    bench->reader = std::move(reader.value());

    std::istringstream tokens(read_file(bench->dir + "/bench-tokens.txt"));
    for (std::string line; std::getline(tokens, line);) {
        if (line.empty())
            continue;
        bench->valid_tokens.push_back(line);
        const std::string id = line.substr(0, line.find(':'));
        bench->wrong_tokens.emplace_back(keyauth::generate_token(id).text.view());
    }
    const std::string raw = read_file(bench->dir + "/bench-fingerprints.bin");
    for (std::size_t at = 0; at + keyauth::kFingerprintBytes <= raw.size();
         at += keyauth::kFingerprintBytes) {
        Fingerprint fp;
        std::memcpy(fp.bytes.data(), raw.data() + at, fp.bytes.size());
        bench->fingerprints.push_back(fp);
    }
    bench->certificates = split_certificates(read_file(bench->dir + "/bench-certificates.pem"));
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<std::size_t> pick(0, clients - 1);
    for (std::size_t i = 0; i < kRandomIds; ++i)
        bench->random_ids.push_back(client_id(pick(rng)));
    for (const std::string& id : bench->random_ids) {
        keyauth::ClientCredentials credentials;
        if (!bench->reader->find(id, credentials))
            die("a random id is not registered: " + id);
        bench->random_fingerprints.push_back(credentials.certificate_fingerprint);
        bench->random_wrong_tokens.emplace_back(keyauth::generate_token(id).text.view());
    }

    // Every sample must give the expected verdict before it is timed.
    const std::int64_t now = keyauth::unix_now();
    for (const auto& t : bench->valid_tokens) {
        if (!keyauth::check_token(*bench->reader, t, now).accepted())
            die("a sample token is refused");
    }
    for (const auto& t : bench->random_wrong_tokens) {
        if (keyauth::check_token(*bench->reader, t, now).verdict != keyauth::Verdict::mismatch)
            die("a random id's wrong token is not a mismatch");
    }
    for (const auto& t : bench->wrong_tokens) {
        if (keyauth::check_token(*bench->reader, t, now).verdict != keyauth::Verdict::mismatch) {
            die("a wrong token is not a mismatch");
        }
    }
    for (const auto& c : bench->certificates) {
        if (!keyauth::check_certificate(*bench->reader, c.get(), now).accepted()) {
            die("a sample certificate is refused");
        }
    }
    if (bench->valid_tokens.empty() || bench->fingerprints.empty() || bench->certificates.empty()) {
        die("empty sample in " + bench->dir);
    }
    return bench;
}

// ---- the checks ---------------------------------------------------------

// Checks each token of the list in turn (valid ones, or wrong secrets).
void bm_check_tokens(benchmark::State& state, const std::vector<std::string>* tokens,
                     BenchRegistry* r) {
    const std::int64_t now = keyauth::unix_now();
    std::size_t i = 0;
    for (auto _ : state) {
        auto result = keyauth::check_token(*r->reader, (*tokens)[i], now);
        benchmark::DoNotOptimize(result);
        if (++i == tokens->size())
            i = 0;
    }
}

// One client over and over: every page it touches stays in cache (a
// keep-alive client, a reconnecting device). The floor under the above.
void bm_check_token_same(benchmark::State& state, BenchRegistry* r) {
    const std::int64_t now = keyauth::unix_now();
    const std::string& token = r->valid_tokens.front();
    for (auto _ : state) {
        auto result = keyauth::check_token(*r->reader, token, now);
        benchmark::DoNotOptimize(result);
    }
}

void bm_check_bearer_valid(benchmark::State& state, BenchRegistry* r) {
    const std::int64_t now = keyauth::unix_now();
    std::vector<std::string> headers;
    for (const auto& t : r->valid_tokens)
        headers.push_back("Bearer " + t);
    std::size_t i = 0;
    for (auto _ : state) {
        auto result = keyauth::check_bearer(*r->reader, headers[i], now);
        benchmark::DoNotOptimize(result);
        if (++i == headers.size())
            i = 0;
    }
}

// Fingerprints in turn: the sample (4 096, partly served by the lookup
// cache) or one per random id (uniform over the registry).
void bm_find_by_fingerprint(benchmark::State& state, const std::vector<Fingerprint>* fingerprints,
                            BenchRegistry* r) {
    std::string id;
    id.reserve(keyauth::kMaxClientIdLength);
    keyauth::ClientCredentials credentials;
    std::size_t i = 0;
    for (auto _ : state) {
        auto s = r->reader->find_by_fingerprint((*fingerprints)[i], id, credentials);
        benchmark::DoNotOptimize(s);
        if (++i == fingerprints->size())
            i = 0;
    }
}

void bm_check_certificate(benchmark::State& state, BenchRegistry* r) {
    const std::int64_t now = keyauth::unix_now();
    std::size_t i = 0;
    for (auto _ : state) {
        auto result = keyauth::check_certificate(*r->reader, r->certificates[i].get(), now);
        benchmark::DoNotOptimize(result);
        if (++i == r->certificates.size())
            i = 0;
    }
}

// The LMDB part alone, uniformly over every id (colder than the sample).
void bm_find_random_id(benchmark::State& state, BenchRegistry* r) {
    keyauth::ClientCredentials credentials;
    std::size_t i = 0;
    for (auto _ : state) {
        auto s = r->reader->find(r->random_ids[i], credentials);
        benchmark::DoNotOptimize(s);
        if (++i == r->random_ids.size())
            i = 0;
    }
}

// The pieces of a token check that do not touch the registry.
void bm_parse_token(benchmark::State& state, BenchRegistry* r) {
    keyauth::ParsedToken parsed;
    std::size_t i = 0;
    for (auto _ : state) {
        bool ok = keyauth::parse_token(r->valid_tokens[i], parsed);
        benchmark::DoNotOptimize(ok);
        if (++i == r->valid_tokens.size())
            i = 0;
    }
}

void bm_hash_token_secret(benchmark::State& state) {
    keyauth::TokenSecret secret;
    randombytes_buf(secret.data(), secret.size());
    for (auto _ : state) {
        auto hash = keyauth::hash_token_secret(secret);
        benchmark::DoNotOptimize(hash);
    }
}

void bm_fingerprint_of(benchmark::State& state, BenchRegistry* r) {
    for (auto _ : state) {
        auto fp = keyauth::fingerprint_of(r->certificates[0].get());
        benchmark::DoNotOptimize(fp);
    }
}

// A dependent random read over a buffer the size of the largest data.mdb:
// what one cache-and-TLB miss costs on this machine, the unit the lookups
// above are made of.
void bm_memory_latency(benchmark::State& state, std::size_t bytes) {
    const std::size_t slots = bytes / 64;
    std::vector<std::size_t> order(slots);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
    // One random cycle through every cache line: next[order[i]] = order[i+1].
    std::vector<std::size_t> next(slots * 8);
    for (std::size_t i = 0; i < slots; ++i)
        next[order[i] * 8] = order[(i + 1) % slots] * 8;
    std::size_t at = 0;
    for (auto _ : state) {
        at = next[at];
        benchmark::DoNotOptimize(at);
    }
}

// ---- keytool as a process -----------------------------------------------

struct Percentiles {
    double median = 0;
    double p90 = 0;
    double max = 0;
};

Percentiles percentiles(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    Percentiles p;
    if (v.empty())
        return p;
    p.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    p.p90 = v[std::min(v.size() - 1, (v.size() * 9) / 10)];
    p.max = v.back();
    return p;
}

// Each iteration spawns `keytool gen` (timed or not) then `keytool del`
// (the other one timed), so the registry ends as it started.
void bm_keytool(benchmark::State& state, BenchRegistry* r, const Options* options, bool time_gen) {
    char out_template[] = "/tmp/keyauth-bench-out.XXXXXX";
    if (mkdtemp(out_template) == nullptr)
        die("mkdtemp");
    const std::string out_dir = out_template;
    std::vector<double> samples;
    std::size_t n = 0;
    for (auto _ : state) {
        const std::string id = "keytoolbench" + std::to_string(n++);
        const std::vector<std::string> gen = {options->keytool, "--registry", r->dir, "gen", id,
                                              "--output",       out_dir + "/"};
        const std::vector<std::string> del = {options->keytool, "--registry", r->dir, "del", id};
        auto t0 = Clock::now();
        const int gen_rc = run_quietly(gen);
        auto t1 = Clock::now();
        const int del_rc = run_quietly(del);
        auto t2 = Clock::now();
        for (const char* suffix : {"_cert.pem", "_key.pem", "_token"}) {
            unlink((out_dir + "/" + id + suffix).c_str());
        }
        if (gen_rc != 0 || del_rc != 0) {
            state.SkipWithError("keytool gen/del failed");
            break;
        }
        const double seconds = std::chrono::duration<double>(time_gen ? t1 - t0 : t2 - t1).count();
        state.SetIterationTime(seconds);
        samples.push_back(seconds * 1e3);
    }
    rmdir(out_dir.c_str());
    const Percentiles p = percentiles(samples);
    state.counters["median_ms"] = p.median;
    state.counters["p90_ms"] = p.p90;
    state.counters["max_ms"] = p.max;
}

// Spawning a process that does nothing: the floor under the two above.
void bm_spawn_floor(benchmark::State& state, const Options* options) {
    std::vector<double> samples;
    for (auto _ : state) {
        auto t0 = Clock::now();
        run_quietly({options->keytool, "--help"});
        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        state.SetIterationTime(seconds);
        samples.push_back(seconds * 1e3);
    }
    state.counters["median_ms"] = percentiles(samples).median;
}

// ---- reporting ----------------------------------------------------------

// The console output, plus one line per benchmark for run_all.sh to pick up:
//   SUMMARY <name> <real ns> <cpu ns>
// (the median of the repetitions, or the single run).
class SummaryReporter : public benchmark::ConsoleReporter {
  public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& run : runs) {
            if (run.error_occurred)
                continue;
            const bool single = run.run_type == Run::RT_Iteration && run.repetitions <= 1;
            const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
            if (!single && !median)
                continue;
            const double unit = run.time_unit == benchmark::kMicrosecond   ? 1e3
                                : run.time_unit == benchmark::kMillisecond ? 1e6
                                : run.time_unit == benchmark::kSecond      ? 1e9
                                                                           : 1.0;
            Line line;
            line.name = run.run_name.str();
            line.real_ns = run.GetAdjustedRealTime() * unit;
            line.cpu_ns = run.GetAdjustedCPUTime() * unit;
            auto it = run.counters.find("median_ms");
            if (it != run.counters.end())
                line.real_ns = line.cpu_ns = it->second.value * 1e6;
            lines_.push_back(line);
        }
    }
    void Finalize() override {
        ConsoleReporter::Finalize();
        // The console reporter may leave a colour reset on the last line.
        std::printf("\n");
        for (const Line& line : lines_) {
            std::printf("SUMMARY %s %.1f %.1f\n", line.name.c_str(), line.real_ns, line.cpu_ns);
        }
        std::fflush(stdout);
    }

  private:
    struct Line {
        std::string name;
        double real_ns = 0;  // wall clock; for keytool, the median of the runs
        double cpu_ns = 0;   // this thread's CPU time: steadier on a shared machine
    };
    std::vector<Line> lines_;
};

std::vector<std::size_t> parse_sizes(const std::string& text) {
    std::vector<std::size_t> sizes;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        char* end = nullptr;
        const unsigned long long v = std::strtoull(item.c_str(), &end, 10);
        if (end == item.c_str() || *end != '\0' || v == 0)
            die("bad --sizes " + text);
        sizes.push_back(static_cast<std::size_t>(v));
    }
    if (sizes.empty())
        die("bad --sizes " + text);
    return sizes;
}

// Takes our options out of argv; Google Benchmark gets the rest.
Options parse_options(int& argc, char** argv) {
    Options options;
    if (const char* env = std::getenv("KEYAUTH_BENCH_CACHE"))
        options.cache_dir = env;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string word = argv[i];
        auto value = [&](const std::string& flag) -> std::string {
            if (word.rfind(flag + "=", 0) == 0)
                return word.substr(flag.size() + 1);
            if (i + 1 >= argc)
                die(flag + " needs a value");
            return argv[++i];
        };
        auto is = [&](const std::string& flag) {
            return word == flag || word.rfind(flag + "=", 0) == 0;
        };
        if (is("--registry-cache")) {
            options.cache_dir = value("--registry-cache");
        } else if (is("--sizes")) {
            options.sizes = parse_sizes(value("--sizes"));
        } else if (is("--keytool")) {
            options.keytool = value("--keytool");
        } else if (is("--keytool-runs")) {
            options.keytool_runs = std::atoi(value("--keytool-runs").c_str());
        } else if (word == "--no-keytool") {
            options.keytool_enabled = false;
        } else if (word == "--populate-only") {
            options.populate_only = true;
        } else if (word == "--all-tokens") {
            options.all_tokens = true;
        } else if (word == "--smoke") {
            options.smoke = true;
        } else {
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    argv[argc] = nullptr;
    return options;
}

}  // namespace

int main(int argc, char** argv) {
    if (sodium_init() < 0)
        die("libsodium failed to initialise");
    Options options = parse_options(argc, argv);
    std::string smoke_dir;
    if (options.smoke) {
        char tmpl[] = "/tmp/keyauth-bench-smoke.XXXXXX";
        if (mkdtemp(tmpl) == nullptr)
            die("mkdtemp");
        smoke_dir = tmpl;
        options.cache_dir = smoke_dir;
        options.sizes = {1000};
        options.keytool_runs = 3;
    }
    if (options.cache_dir.empty())
        options.cache_dir = "/tmp/keyauth-bench-cache";
    mkdir(options.cache_dir.c_str(), 0700);

    std::vector<std::unique_ptr<BenchRegistry>> registries;
    for (const std::size_t size : options.sizes)
        registries.push_back(prepare(options, size));
    if (options.populate_only)
        return 0;
    if (options.keytool_enabled && access(options.keytool.c_str(), X_OK) != 0) {
        std::fprintf(stderr, "core_bench: no keytool at %s; keytool latency skipped\n",
                     options.keytool.c_str());
        options.keytool_enabled = false;
    }

    // Defaults first, so flags given on the command line win.
    std::vector<char*> args(argv, argv + argc);
    std::string repetitions =
        options.smoke ? "--benchmark_repetitions=1" : "--benchmark_repetitions=5";
    std::string min_time = options.smoke ? "--benchmark_min_time=0.01" : "--benchmark_min_time=0.2";
    std::string aggregates = "--benchmark_report_aggregates_only=true";
    args.insert(args.begin() + 1, {repetitions.data(), min_time.data(), aggregates.data()});
    int bench_argc = static_cast<int>(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&bench_argc, args.data());
    if (benchmark::ReportUnrecognizedArguments(bench_argc, args.data()))
        return 2;

    benchmark::RegisterBenchmark("hash_token_secret", bm_hash_token_secret);
    benchmark::RegisterBenchmark("parse_token", bm_parse_token, registries.front().get());
    benchmark::RegisterBenchmark("fingerprint_of", bm_fingerprint_of, registries.front().get());
    for (auto& r : registries) {
        const std::string n = "/" + std::to_string(r->clients);
        BenchRegistry* reg = r.get();
        benchmark::RegisterBenchmark(("check_token_valid" + n).c_str(), bm_check_tokens,
                                     &reg->valid_tokens, reg);
        benchmark::RegisterBenchmark(("check_token_same" + n).c_str(), bm_check_token_same, reg);
        benchmark::RegisterBenchmark(("check_token_wrong" + n).c_str(), bm_check_tokens,
                                     &reg->wrong_tokens, reg);
        benchmark::RegisterBenchmark(("check_bearer_valid" + n).c_str(), bm_check_bearer_valid,
                                     reg);
        benchmark::RegisterBenchmark(("find_by_fingerprint" + n).c_str(), bm_find_by_fingerprint,
                                     &reg->fingerprints, reg);
        benchmark::RegisterBenchmark(("check_certificate" + n).c_str(), bm_check_certificate, reg);
        benchmark::RegisterBenchmark(("find_random_id" + n).c_str(), bm_find_random_id, reg);
        benchmark::RegisterBenchmark(("find_random_fingerprint" + n).c_str(),
                                     bm_find_by_fingerprint, &reg->random_fingerprints, reg);
        // The whole token check on a cold line each time: a uniformly random
        // id (its lookup.idx slot and record rarely cached), parsed, hashed,
        // probed and judged (a wrong secret: a mismatch, nothing remembered
        // that the next round could hit).
        benchmark::RegisterBenchmark(("check_token_random_id" + n).c_str(), bm_check_tokens,
                                     &reg->random_wrong_tokens, reg);
    }
    if (registries.back()->clients >= 100000) {
        struct stat st {};
        stat((registries.back()->dir + "/data.mdb").c_str(), &st);
        const std::size_t bytes = static_cast<std::size_t>(st.st_size);
        benchmark::RegisterBenchmark(
            ("memory_latency/" + std::to_string(bytes >> 20) + "MiB").c_str(), bm_memory_latency,
            bytes);
    }
    if (options.keytool_enabled) {
        const int runs = std::max(1, options.keytool_runs);
        benchmark::RegisterBenchmark("keytool_spawn_floor", bm_spawn_floor, &options)
            ->UseManualTime()
            ->Iterations(runs)
            ->Repetitions(1)
            ->Unit(benchmark::kMillisecond);
        for (auto& r : registries) {
            const std::string n = "/" + std::to_string(r->clients);
            benchmark::RegisterBenchmark(("keytool_gen" + n).c_str(), bm_keytool, r.get(), &options,
                                         true)
                ->UseManualTime()
                ->Iterations(runs)
                ->Repetitions(1)
                ->Unit(benchmark::kMillisecond);
            benchmark::RegisterBenchmark(("keytool_del" + n).c_str(), bm_keytool, r.get(), &options,
                                         false)
                ->UseManualTime()
                ->Iterations(runs)
                ->Repetitions(1)
                ->Unit(benchmark::kMillisecond);
        }
    }

    SummaryReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    registries.clear();
    if (!smoke_dir.empty())
        run_quietly({"/bin/rm", "-rf", smoke_dir});
    return 0;
}
