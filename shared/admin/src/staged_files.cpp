#include "keyauth/staged_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <sodium.h>

namespace keyauth {
namespace {

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    if (slash == 0)
        return "/";
    return path.substr(0, slash);
}

Status write_all(int fd, std::string_view contents, const std::string& path) {
    while (!contents.empty()) {
        const ssize_t n = write(fd, contents.data(), contents.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return file_error(errno, path);
        }
        contents.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

// Gives an anonymous O_TMPFILE file the name path; EEXIST if it is taken.
int link_anonymous(int fd, const std::string& path) {
    if (linkat(fd, "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH) == 0)
        return 0;
    if (errno != ENOENT && errno != EPERM)
        return -1;
    // Without CAP_DAC_READ_SEARCH, link through /proc instead.
    char proc_path[64];
    std::snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc_path, AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW);
}

std::string base_name_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// ".<base>.<pid>.<hex>.tmp": temporary_name()'s names; the pid, or -1.
long temporary_owner(std::string_view name, std::string_view base) {
    const std::string_view tail = ".tmp";
    if (name.size() < base.size() + 2 + tail.size() || name[0] != '.' ||
        name.substr(1, base.size()) != base || name[1 + base.size()] != '.' ||
        name.substr(name.size() - tail.size()) != tail) {
        return -1;
    }
    std::string_view middle =
        name.substr(base.size() + 2, name.size() - base.size() - 2 - tail.size());
    const auto dot = middle.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == middle.size())
        return -1;
    const std::string_view pid = middle.substr(0, dot);
    const std::string_view random = middle.substr(dot + 1);
    if (pid.size() > 9 ||
        !std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        !std::all_of(random.begin(), random.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
        return -1;
    }
    return std::stol(std::string(pid));
}

// A keytool killed between linking and renaming leaves private copies of
// old and new files (keys, tokens) beside path: the next run for the same
// path removes those of processes that are gone, and only files it owns.
void remove_stale_temporaries(const std::string& path) {
    const std::string base = base_name_of(path);
    UniqueFd dir_fd(open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd.valid())
        return;
    DIR* listing = fdopendir(dup(dir_fd.get()));
    if (listing == nullptr)
        return;
    while (const dirent* entry = readdir(listing)) {
        const long owner = temporary_owner(entry->d_name, base);
        if (owner <= 0 || owner == getpid())
            continue;
        if (kill(static_cast<pid_t>(owner), 0) == 0 || errno != ESRCH)
            continue;  // its writer may still be at work
        struct stat st {};
        if (fstatat(dir_fd.get(), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
            unlinkat(dir_fd.get(), entry->d_name, 0);
        }
    }
    closedir(listing);
}

std::string temporary_name(const std::string& path) {
    const std::string dir = directory_of(path);
    const std::string base = base_name_of(path);
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".%d.%lx", static_cast<int>(getpid()),
                  static_cast<unsigned long>(randombytes_random()));
    return dir + "/." + base + suffix + ".tmp";
}

}  // namespace

Status StagedFiles::stage(const std::string& path, std::string_view contents, mode_t mode,
                          bool overwrite, std::optional<gid_t> group) {
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!overwrite || S_ISDIR(st.st_mode)) {
            return make_error(Errc::already_exists, path + " already exists");
        }
    } else if (errno != ENOENT) {
        return file_error(errno, path);
    }
    remove_stale_temporaries(path);
    // Anonymous until published: a crash leaves nothing behind.
    UniqueFd fd(open(directory_of(path).c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode));
    if (!fd.valid())
        return file_error(errno, path);
    if (group && fchown(fd.get(), static_cast<uid_t>(-1), *group) != 0) {
        return file_error(errno, path);
    }
    // After fchown, which may clear set-id bits; and whatever the umask.
    if (fchmod(fd.get(), mode) != 0)
        return file_error(errno, path);
    if (Status s = write_all(fd.get(), contents, path); !s)
        return s;
    Entry entry;
    entry.path = path;
    entry.fd = std::move(fd);
    entry.overwrite = overwrite;
    entries_.push_back(std::move(entry));
    return {};
}

// Every staged file's data durable before any of them gets a name, so that
// no name, once durable, leads to a file half-written. Among themselves the
// files need no order: a power loss before the last fdatasync returns leaves
// them all anonymous, which is nothing. So writeback is started on all of
// them first and the waits overlap; each fdatasync then only waits for what
// is left (and the journal commit the first one makes carries the others'
// block allocations).
Status StagedFiles::make_durable() const {
    for (const Entry& entry : entries_) {
        // Only a hint that starts the writes: whatever it does or fails to
        // do, the fdatasync below is what makes the data durable.
        sync_file_range(entry.fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
    }
    for (const Entry& entry : entries_) {
        if (fdatasync(entry.fd.get()) != 0)
            return file_error(errno, entry.path);
    }
    return {};
}

Status StagedFiles::publish() {
    if (Status s = make_durable(); !s)
        return s;
    // Phase one, undoable: new files get their name or a private one; files
    // about to be replaced get a hard-linked backup.
    for (Entry& entry : entries_) {
        int rc = 0;
        if (entry.overwrite) {
            entry.pending = temporary_name(entry.path);
            rc = link_anonymous(entry.fd.get(), entry.pending);
            if (rc != 0)
                entry.pending.clear();
            struct stat st {};
            if (rc == 0 && lstat(entry.path.c_str(), &st) == 0) {
                // linkat without AT_SYMLINK_FOLLOW backs up a link itself.
                entry.backup = temporary_name(entry.path);
                rc = linkat(AT_FDCWD, entry.path.c_str(), AT_FDCWD, entry.backup.c_str(), 0);
                if (rc != 0)
                    entry.backup.clear();
            }
        } else {
            rc = link_anonymous(entry.fd.get(), entry.path);
            entry.published = rc == 0;
        }
        if (rc != 0) {
            const Error error = file_error(errno, entry.path);
            rollback();
            return error;
        }
    }
    // Phase two: renames over the old files.
    for (Entry& entry : entries_) {
        if (entry.pending.empty())
            continue;
        if (rename(entry.pending.c_str(), entry.path.c_str()) != 0) {
            const Error error = file_error(errno, entry.path);
            rollback();
            return error;
        }
        entry.pending.clear();
        entry.published = true;
    }
    std::vector<std::string> synced;
    for (const Entry& entry : entries_) {
        const std::string dir = directory_of(entry.path);
        if (std::find(synced.begin(), synced.end(), dir) != synced.end())
            continue;
        if (Status s = fsync_directory(dir); !s)
            return s;
        synced.push_back(dir);
    }
    return {};
}

void StagedFiles::undo(Entry& entry) {
    if (!entry.pending.empty())
        unlink(entry.pending.c_str());
    entry.pending.clear();
    if (entry.published) {
        if (!entry.backup.empty()) {
            rename(entry.backup.c_str(), entry.path.c_str());
            entry.backup.clear();
        } else {
            unlink(entry.path.c_str());
        }
    }
    if (!entry.backup.empty())
        unlink(entry.backup.c_str());
    entry.backup.clear();
    entry.published = false;
}

std::vector<std::string> StagedFiles::paths() const {
    std::vector<std::string> paths;
    for (const Entry& entry : entries_)
        paths.push_back(entry.path);
    return paths;
}

void StagedFiles::rollback() {
    for (Entry& entry : entries_)
        undo(entry);
}

StagedFiles::~StagedFiles() {
    for (Entry& entry : entries_) {
        if (!entry.pending.empty())
            unlink(entry.pending.c_str());
        if (!entry.backup.empty())
            unlink(entry.backup.c_str());
    }
}

Status write_file_exclusive(const std::string& path, std::string_view contents, mode_t mode,
                            bool overwrite, std::optional<gid_t> group) {
    StagedFiles files;
    if (Status s = files.stage(path, contents, mode, overwrite, group); !s)
        return s;
    return files.publish();
}

}  // namespace keyauth
