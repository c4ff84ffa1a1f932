#include "commit_sequence.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace keyauth {
namespace {

// The file: 8 bytes of magic, then the counter, 8-byte aligned.
constexpr char kMagic[8] = {'k', 'e', 'y', 'a', 'u', 't', 'h', 's'};
constexpr std::size_t kCounterOffset = 8;
constexpr std::size_t kFileSize = 16;

static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "the counter is shared between processes: it must be lock-free");

Error sequence_error(int err, const std::string& path) {
    Errc code = Errc::io_error;
    if (err == EACCES || err == EPERM || err == EROFS)
        code = Errc::permission_denied;
    if (err == ENOENT)
        code = Errc::not_found;
    return make_error(code, path + ": " + std::strerror(err));
}

Result<UniqueFd> create_sequence_file(const std::string& path, const std::string& group_from) {
    struct stat data {};
    if (stat(group_from.c_str(), &data) != 0)
        return sequence_error(errno, group_from);
    UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid())
        return sequence_error(errno, path);
    char contents[kFileSize] = {};
    std::memcpy(contents, kMagic, sizeof kMagic);
    if (pwrite(fd.get(), contents, sizeof contents, 0) != static_cast<ssize_t>(sizeof contents) ||
        fchown(fd.get(), static_cast<uid_t>(-1), data.st_gid) != 0 || fchmod(fd.get(), 0640) != 0 ||
        fdatasync(fd.get()) != 0) {
        const int err = errno;
        unlink(path.c_str());
        return sequence_error(err, path);
    }
    return fd;
}

}  // namespace

CommitSequence::CommitSequence(CommitSequence&& other) noexcept
    : map_(other.map_), device_(other.device_), inode_(other.inode_) {
    other.map_ = nullptr;
}

CommitSequence& CommitSequence::operator=(CommitSequence&& other) noexcept {
    if (this != &other) {
        unmap();
        map_ = other.map_;
        device_ = other.device_;
        inode_ = other.inode_;
        other.map_ = nullptr;
    }
    return *this;
}

CommitSequence::~CommitSequence() {
    unmap();
}

void CommitSequence::unmap() {
    if (map_ != nullptr)
        munmap(map_, kFileSize);
    map_ = nullptr;
}

std::atomic<std::uint64_t>* CommitSequence::counter() const {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(static_cast<char*>(map_) + kCounterOffset);
}

Status CommitSequence::attach(int fd, const std::string& path, bool writable) {
    struct stat st {};
    if (fstat(fd, &st) != 0)
        return sequence_error(errno, path);
    if (!S_ISREG(st.st_mode) || st.st_size != static_cast<off_t>(kFileSize)) {
        return make_error(Errc::registry_corrupt, path + " is not a commit sequence");
    }
    const int protection = PROT_READ | (writable ? PROT_WRITE : 0);
    void* mapped = mmap(nullptr, kFileSize, protection, MAP_SHARED, fd, 0);
    if (mapped == MAP_FAILED)
        return sequence_error(errno, path);
    if (std::memcmp(mapped, kMagic, sizeof kMagic) != 0) {
        munmap(mapped, kFileSize);
        return make_error(Errc::registry_corrupt, path + " is not a commit sequence");
    }
    unmap();
    map_ = mapped;
    device_ = st.st_dev;
    inode_ = st.st_ino;
    return {};
}

Result<CommitSequence> CommitSequence::open_for_reading(const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid())
        return sequence_error(errno, path);
    CommitSequence sequence;
    if (Status s = sequence.attach(fd.get(), path, false); !s)
        return s.error();
    return sequence;
}

Result<CommitSequence> CommitSequence::open_for_writing(const std::string& path,
                                                        const std::string& group_from) {
    UniqueFd fd(open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid() && errno == ENOENT) {
        auto created = create_sequence_file(path, group_from);
        if (!created)
            return created.error();
        fd = std::move(*created);
    }
    if (!fd.valid())
        return sequence_error(errno, path);
    CommitSequence sequence;
    if (Status s = sequence.attach(fd.get(), path, true); !s)
        return s.error();
    return sequence;
}

// seq_cst on both sides of the commit: the odd value is visible before
// LMDB's first page write, and every write of the commit before the even one.
void CommitSequence::begin_commit() {
    const std::uint64_t value = counter()->load(std::memory_order_relaxed);
    counter()->store(value | 1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

void CommitSequence::end_commit() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const std::uint64_t value = counter()->load(std::memory_order_relaxed);
    counter()->store((value | 1) + 1, std::memory_order_seq_cst);
}

}  // namespace keyauth
