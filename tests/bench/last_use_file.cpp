// What the last-use file costs a server process and keytool, for
// docs/BENCHMARKS.md ("Last use: the file"). Public API only, so the same
// source measures any version of the core:
//
//   last_use_file fill FILE N     N distinct ids marked and flushed as a
//                                 worker's timer would (a flush whenever
//                                 the marks are crowded); then the process's
//                                 RSS, the file's bytes per client
//   last_use_file remark FILE M [K] a fresh process (a worker after a
//                                 restart) marks M of those ids K (1)
//                                 minutes later and flushes once: run under
//                                 strace -c for the system calls
//   last_use_file read FILE       read_last_use: clients, RSS, time
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "keyauth/last_use.hpp"

namespace {

constexpr std::int64_t kNow = 1'700'000'040;

long status_kb(const char* field) {
    FILE* f = std::fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f != nullptr && std::fgets(line, sizeof line, f) != nullptr) {
        if (std::strncmp(line, field, std::strlen(field)) == 0)
            kb = std::atol(line + std::strlen(field) + 1);
    }
    if (f != nullptr)
        std::fclose(f);
    return kb;
}

std::string id_of(long i) {
    char id[32];
    std::snprintf(id, sizeof id, "device%07ld", i);
    return id;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    if ((argc != 4 && argc != 5) && !(argc == 3 && std::strcmp(argv[1], "read") == 0)) {
        std::fprintf(stderr, "usage: %s fill FILE N | remark FILE M [K] | read FILE\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[1], path = argv[2];
    const long n = argc >= 4 ? std::atol(argv[3]) : 0;
    const long later = argc == 5 ? std::atol(argv[4]) : 1;
    const auto start = std::chrono::steady_clock::now();
    if (mode == "read") {
        auto uses = keyauth::read_last_use(path);
        if (!uses) {
            std::fprintf(stderr, "%s\n", uses.error().message.c_str());
            return 1;
        }
        std::printf("read: %zu clients in %.2f s, VmHWM %ld kB\n", uses->size(),
                    seconds_since(start), status_kb("VmHWM:"));
        return 0;
    }
    const std::int64_t now = mode == "fill" ? kNow : kNow + 60 * later;
    // remark: one flush for all, as a worker with M open sessions whose
    // marks all fit (the table sized to hold them)
    keyauth::LastUseRecorder recorder(
        path, 60, mode == "fill" ? keyauth::kLastUseMarkSlots : static_cast<std::size_t>(n) * 2);
    long flushes = 0, failed = 0;
    for (long i = 0; i < n; ++i) {
        const std::string id = id_of(i);
        recorder.mark(id, now);
        if (mode == "fill" && recorder.crowded()) {
            failed += recorder.flush(now).outcome == keyauth::FlushOutcome::failed;
            ++flushes;
            recorder.mark(id, now);
        }
    }
    failed += recorder.flush(now).outcome == keyauth::FlushOutcome::failed;
    ++flushes;
    struct stat st {};
    stat(path.c_str(), &st);
    std::printf(
        "%s: %ld ids, %ld flushes (%ld failed) in %.2f s; VmRSS %ld kB, VmHWM %ld kB; "
        "file %lld bytes, %.1f bytes per client\n",
        mode.c_str(), n, flushes, failed, seconds_since(start), status_kb("VmRSS:"),
        status_kb("VmHWM:"), static_cast<long long>(st.st_size),
        n > 0 ? double(st.st_size) / double(n) : 0.0);
    return failed != 0;
}
