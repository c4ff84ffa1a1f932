// The last-use file, as another user may leave it: arbitrary bytes read by
// keytool's reader, then written by a server's flush. Neither may crash or
// read out of bounds (the file is read with pread, bounded by its header and
// size); a flush that says "written" leaves a file the reader reads, with
// the marks in it. Half the inputs get a valid format-2 header of two pages,
// so that the slots behind it are what is fuzzed (the first byte chooses).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_support.hpp"
#include "keyauth/last_use.hpp"

namespace {

constexpr std::int64_t kNow = 1'700'000'040;
constexpr std::size_t kPage = 4096;

const keyauth_test::TempDir& dir() {
    static keyauth_test::TempDir* temp = new keyauth_test::TempDir;  // outlives atexit
    static const bool cleaned = [] {
        std::atexit([] { keyauth_test::TempDir::remove_tree(temp->path()); });
        return true;
    }();
    (void)cleaned;
    return *temp;
}

std::string file_of(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return {};
    if ((data[0] & 1) == 0)  // the first byte chooses; the file is the rest
        return std::string(reinterpret_cast<const char*>(data + 1), size - 1);
    // magic, format 2, slot 80, page 4096, log2 1, the key and the rest
    // from the input, then two pages of slots from it
    std::string bytes(3 * kPage, '\0');
    bytes.replace(0, 16, "keyauth lastuse2");
    const std::uint32_t fields[4] = {2, 80, 4096, 1};
    bytes.replace(16, sizeof fields, reinterpret_cast<const char*>(fields), sizeof fields);
    const std::size_t key = std::min<std::size_t>(size - 1, 16);
    bytes.replace(32, key, reinterpret_cast<const char*>(data + 1), key);
    if (size > 17)
        bytes.replace(kPage, std::min(size - 17, 2 * kPage),
                      reinterpret_cast<const char*>(data + 17), std::min(size - 17, 2 * kPage));
    return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = dir() / "last-use";
    unlink(path.c_str());
    unlink((path + ".format1").c_str());
    const std::string bytes = file_of(data, size);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0640);
    if (fd < 0 || write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
        keyauth_fuzz::die("cannot write the input file");
    close(fd);

    (void)keyauth::read_last_use(path);

    keyauth::LastUseRecorder recorder(path, 1);
    for (const char* id : {"alice", "bob", "myapp01.example_longer-id@host"})
        recorder.mark(id, kNow);
    const keyauth::FlushReport flush = recorder.flush(kNow);
    if (flush.outcome == keyauth::FlushOutcome::written) {
        auto read = keyauth::read_last_use(path);
        FUZZ_CHECK(read.ok());
        for (const char* id : {"alice", "bob", "myapp01.example_longer-id@host"}) {
            const auto it = read->find(id);
            FUZZ_CHECK(it != read->end() && it->second >= kNow - kNow % 60);
        }
    } else {
        FUZZ_CHECK(flush.outcome == keyauth::FlushOutcome::failed);
        FUZZ_CHECK(recorder.marks().pending() == 3);
    }
    return 0;
}
