// Files keytool hands out: created exclusively, never through a link, with
// exact modes whatever the umask, and never seen half-written.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyauth/files.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

// A set of files written in full, and all of them fsynced at publish()
// before any of them gets its name. publish() puts them all in place or
// none; until the set dies, rollback() restores exactly what was there
// before (files replaced with overwrite come back from hard-linked backups).
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
    Status make_durable() const;
    void undo(Entry& entry);
    std::vector<Entry> entries_;
};

// One file, staged and published.
Status write_file_exclusive(const std::string& path, std::string_view contents, mode_t mode,
                            bool overwrite, std::optional<gid_t> group = std::nullopt);

}  // namespace keyauth
