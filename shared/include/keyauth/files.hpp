// Files keytool hands out: created exclusively, never through a link, with
// exact modes whatever the umask, and never seen half-written.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "keyauth/result.hpp"

namespace keyauth {

class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd();

    int get() const { return fd_; }
    int release();
    bool valid() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

// A set of files written in full and fsynced before any of them gets its
// name. publish() puts them all in place or none; until the set dies,
// rollback() restores exactly what was there before (files replaced with
// overwrite come back from hard-linked backups).
class StagedFiles {
  public:
    StagedFiles() = default;
    StagedFiles(StagedFiles&&) = default;
    StagedFiles& operator=(StagedFiles&&) = default;
    ~StagedFiles();  // keeps what was published; drops the backups

    // Fails early if the path exists (unless overwrite) or its directory is
    // not writable, so nothing is registered for files that cannot be written.
    Status stage(const std::string& path, std::string_view contents, mode_t mode, bool overwrite,
                 std::optional<gid_t> group = std::nullopt);
    Status publish();
    void rollback();
    std::vector<std::string> paths() const;

  private:
    struct Entry {
        std::string path;
        UniqueFd fd;
        bool overwrite = false;
        std::string pending;  // linked, not yet renamed into place
        std::string backup;   // the file this one replaced
        bool published = false;
    };
    void undo(Entry& entry);
    std::vector<Entry> entries_;
};

// One file, staged and published.
Status write_file_exclusive(const std::string& path, std::string_view contents, mode_t mode,
                            bool overwrite, std::optional<gid_t> group = std::nullopt);

Result<std::string> read_small_file(const std::string& path);

// An errno as an error naming the path (permission_denied, not_found, ...).
Error file_error(int err, const std::string& path);

// Makes a rename or unlink in dir durable.
Status fsync_directory(const std::string& dir);

}  // namespace keyauth
