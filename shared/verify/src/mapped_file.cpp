#include "mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "keyauth/files.hpp"

namespace keyauth {

MappedFile::MappedFile(MappedFile&& other) noexcept {
    *this = std::move(other);
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        if (data_ != nullptr)
            munmap(data_, size_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        device_ = other.device_;
        inode_ = other.inode_;
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (data_ != nullptr)
        munmap(data_, size_);
}

Result<MappedFile> MappedFile::open(const std::string& path, bool writable, std::size_t min_size) {
    UniqueFd fd(::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid())
        return file_error(errno, path);
    return map(fd.get(), path, writable, min_size);
}

Result<MappedFile> MappedFile::map(int fd, const std::string& path, bool writable,
                                   std::size_t min_size) {
    struct stat st {};
    if (fstat(fd, &st) != 0)
        return file_error(errno, path);
    if (!S_ISREG(st.st_mode) || st.st_size < static_cast<off_t>(min_size) || st.st_size == 0)
        return make_error(Errc::registry_corrupt, path + " is not a keyauth registry file");
    const auto bytes = static_cast<std::size_t>(st.st_size);
    void* mapped = mmap(nullptr, bytes, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (mapped == MAP_FAILED)
        return file_error(errno, path);
    // The writer (keytool) reads and writes a few slots and records far
    // apart, from the header on: without this, each page not in memory
    // comes with the disk's whole read-ahead around it (8 MiB on the
    // benchmark machine, docs/BENCHMARKS.md, "A gen's process start
    // and page-ins at 10^7").
    if (writable)
        madvise(mapped, bytes, MADV_RANDOM);
    MappedFile file;
    file.data_ = static_cast<unsigned char*>(mapped);
    file.size_ = bytes;
    file.device_ = st.st_dev;
    file.inode_ = st.st_ino;
    return file;
}

Status MappedFile::sync(std::size_t offset, std::size_t bytes) const {
    if (offset >= size_)
        return {};
    if (msync(data_ + offset, bytes < size_ - offset ? bytes : size_ - offset, MS_SYNC) != 0)
        return file_error(errno, "registry file");
    return {};
}

void MappedFile::hand_back() const {
    // MADV_DONTNEED on a shared mapping only unmaps: nothing written is lost.
    if (data_ != nullptr)
        (void)madvise(data_, size_, MADV_DONTNEED);
}

}  // namespace keyauth
