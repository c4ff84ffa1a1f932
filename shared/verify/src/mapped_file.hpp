// A whole file mapped shared, read-only or read-write, remembering which
// file (device, inode) it is: the registry's files the servers map.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "keyauth/result.hpp"

namespace keyauth {

class MappedFile {
  public:
    MappedFile() = default;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    // Never through a symbolic link; a regular file of at least min_size.
    static Result<MappedFile> open(const std::string& path, bool writable, std::size_t min_size);
    // The same for a file already open (writable: opened O_RDWR).
    static Result<MappedFile> map(int fd, const std::string& path, bool writable,
                                  std::size_t min_size);

    unsigned char* data() const { return data_; }
    std::size_t size() const { return size_; }
    bool mapped() const { return data_ != nullptr; }
    dev_t device() const { return device_; }
    ino_t inode() const { return inode_; }
    // Writes the dirty pages of [offset, offset + bytes) to disk; offset
    // is a multiple of the page size.
    Status sync(std::size_t offset, std::size_t bytes) const;
    // The pages this process has mapped, let go of (the file and the page
    // cache keep them; the next read maps them again): a reader probing the
    // whole file once keeps none of it resident.
    void hand_back() const;

  private:
    unsigned char* data_ = nullptr;
    std::size_t size_ = 0;
    dev_t device_ = 0;
    ino_t inode_ = 0;
};

}  // namespace keyauth
