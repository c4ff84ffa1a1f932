#include "commit_sequence.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "keyauth/files.hpp"

namespace keyauth {
namespace {

// The file: 8 bytes of magic, then the counter (CommitSequence::kCounterOffset),
// 8-byte aligned.
constexpr char kMagic[8] = {'k', 'e', 'y', 'a', 'u', 't', 'h', 's'};
constexpr std::size_t kFileSize = 16;
static_assert(CommitSequence::kCounterOffset == sizeof kMagic);

static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "the counter is shared between processes: it must be lock-free");

Status create_sequence_file(const std::string& path, const std::string& group_from) {
    struct stat data {};
    if (stat(group_from.c_str(), &data) != 0)
        return file_error(errno, group_from);
    UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid())
        return file_error(errno, path);
    char contents[kFileSize] = {};
    std::memcpy(contents, kMagic, sizeof kMagic);
    if (pwrite(fd.get(), contents, sizeof contents, 0) != static_cast<ssize_t>(sizeof contents) ||
        fchown(fd.get(), static_cast<uid_t>(-1), data.st_gid) != 0 || fchmod(fd.get(), 0640) != 0 ||
        fdatasync(fd.get()) != 0) {
        const int err = errno;
        unlink(path.c_str());
        return file_error(err, path);
    }
    return {};
}

}  // namespace

Result<CommitSequence> CommitSequence::checked(Result<MappedFile> file, const std::string& path) {
    if (!file)
        return file.error();
    if (file->size() != kFileSize || std::memcmp(file->data(), kMagic, sizeof kMagic) != 0)
        return make_error(Errc::registry_corrupt, path + " is not a commit sequence");
    CommitSequence sequence;
    sequence.file_ = std::move(*file);
    return sequence;
}

Result<CommitSequence> CommitSequence::open_for_reading(const std::string& path) {
    return checked(MappedFile::open(path, false, kFileSize), path);
}

Result<CommitSequence> CommitSequence::open_for_writing(const std::string& path,
                                                        const std::string& group_from) {
    bool created = false;
    if (access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
        if (Status s = create_sequence_file(path, group_from); !s)
            return s.error();
        created = true;
    }
    auto sequence = checked(MappedFile::open(path, true, kFileSize), path);
    if (sequence)
        sequence->created_ = created;
    return sequence;
}

// The copy this value names was written and synced before; the fence
// orders the store before whatever the writer changes next (the other copy),
// so a reader that saw any of those changes also sees the counter moved.
Status CommitSequence::publish(std::uint64_t version) {
    counter()->store(version, std::memory_order_release);
    created_ = false;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return file_.sync(0, kFileSize);
}

}  // namespace keyauth
