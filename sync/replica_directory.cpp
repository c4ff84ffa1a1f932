#include "replica_directory.hpp"

#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include <openssl/x509v3.h>

#include "keyauth/files.hpp"
#include "keyauth/x509_identity.hpp"
#include "keyauth/staged_files.hpp"
#include "keyauth/writer_lock.hpp"

namespace keysync {
namespace {

namespace fs = std::filesystem;

// The exchange waits for the old registry's write lock longer than keytool
// does: a fill of minutes is not thrown away for a keytool list of seconds.
constexpr long kSwapLockWaitMillis = 30000;
using keyauth::Errc;
using keyauth::make_error;
using keyauth::Status;

Status system_error(const std::string& what) {
    return make_error(errno == EACCES ? Errc::permission_denied : Errc::io_error,
                      what + ": " + std::strerror(errno));
}

Status set_group_and_mode(const std::string& path, gid_t group, mode_t mode) {
    if (chown(path.c_str(), static_cast<uid_t>(-1), group) != 0 || chmod(path.c_str(), mode) != 0)
        return system_error(path);
    return {};
}

// The registry's directory as a name in its parent ("DIR/" is DIR).
std::string without_trailing_slashes(std::string dir) {
    while (dir.size() > 1 && dir.back() == '/')
        dir.pop_back();
    return dir;
}

// A rebuild's directory is DIR.rebuild.XXXXXX, made by mkdtemp: no name
// another user could make first beside a registry in /tmp (a fixed
// DIR.rebuild made by them stopped every rebuild for good).
constexpr std::string_view kRebuildSuffix = ".rebuild";
constexpr std::size_t kUniqueLength = 6;  // mkdtemp's XXXXXX

std::string rebuild_prefix(const keyauth::RegistryLayout& layout) {
    return without_trailing_slashes(layout.dir) + std::string(kRebuildSuffix);
}

std::string parent_of(const std::string& dir) {
    const fs::path parent = fs::path(dir).parent_path();
    return parent.empty() ? "." : parent.string();
}

// The files the LMDB writer makes itself, and keyauth-sync's contact file
// (its revision is said of the old LMDB's transactions, which the new LMDB's
// numbers may meet again: the new registry's first commit holds the contact);
// every other file is copied.
bool is_of_the_old_lmdb(const keyauth::RegistryLayout& layout, const std::string& name) {
    const auto named = [&](const std::string& path) { return fs::path(path).filename() == name; };
    return name == "data.mdb" || name == "lookup.idx" || name == "commit.seq" ||
           name == "writer.lock" || name == "lock.mdb" || named(layout.fleet_contact()) ||
           named(layout.fleet_contact_staging());
}

Status copy_file(const std::string& from, const std::string& to) {
    struct stat st {};
    if (stat(from.c_str(), &st) != 0)
        return system_error(from);
    auto contents = keyauth::read_small_file(from);
    if (!contents)
        return contents.error();
    if (Status s = keyauth::write_file_exclusive(to, *contents, st.st_mode & 07777, true); !s)
        return s;
    if (chown(to.c_str(), st.st_uid, st.st_gid) != 0 || chmod(to.c_str(), st.st_mode & 07777) != 0)
        return system_error(to);
    return {};
}

// The registry's files in `dir`: what the servers read (lookup.idx,
// commit.seq) and data.mdb in the servers' group, as keytool init leaves them.
Status make_registry_files(const keyauth::RegistryLayout& layout, gid_t group) {
    auto registry = keyauth::LmdbRegistry::open(layout.dir, keyauth::OpenMode::create);
    if (!registry)
        return registry.error();
    for (const std::string& path : layout.group_readable_files()) {
        if (Status s = set_group_and_mode(path, group, 0640); !s)
            return s;
    }
    return {};
}

// The lock of the one keyauth-sync that keeps a registry: inside its
// directory, where no other user can make a name (beside a registry in /tmp,
// anyone may make DIR.sync.lock first, and hold it for ever).
constexpr const char* kSyncLockName = "sync.lock";

std::string sync_lock_path(const keyauth::RegistryLayout& layout) {
    return without_trailing_slashes(layout.dir) + "/" + kSyncLockName;
}

// flock()s fd at once, and writes our pid in it; Errc::already_exists, with
// the holder's pid, if another process holds it.
Status lock_without_waiting(const keyauth::UniqueFd& fd, const std::string& path,
                            const keyauth::RegistryLayout& layout) {
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            return system_error("cannot lock " + path);
        char holder[32] = {0};
        const ssize_t n = pread(fd.get(), holder, sizeof holder - 1, 0);
        std::string pid(holder, n > 0 ? static_cast<std::size_t>(n) : 0);
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
            pid.pop_back();
        return make_error(Errc::already_exists, "another keyauth-sync (pid " +
                                                    (pid.empty() ? "?" : pid) +
                                                    ") keeps registry " + layout.dir + " (lock " +
                                                    path + "); one per registry");
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd.get(), 0) != 0 || pwrite(fd.get(), pid.data(), pid.size(), 0) < 0)
        return system_error(path);
    return {};
}

}  // namespace

Status prepare_registry(const keyauth::RegistryLayout& layout,
                        const std::optional<std::string>& group_name) {
    gid_t group = getegid();
    if (group_name) {
        const struct group* found = getgrnam(group_name->c_str());
        if (found == nullptr)
            return make_error(Errc::invalid_argument, "no group named " + *group_name);
        group = found->gr_gid;
    }
    struct stat st {};
    if (stat(layout.dir.c_str(), &st) != 0) {
        if (mkdir(layout.dir.c_str(), 0750) != 0)
            return system_error("cannot create registry " + layout.dir);
        if (Status s = set_group_and_mode(layout.dir, group, group_name ? 02750 : 0750); !s)
            return s;
    } else if (!S_ISDIR(st.st_mode)) {
        return make_error(Errc::invalid_argument, "registry " + layout.dir + " is not a directory");
    } else if (!group_name) {
        group = st.st_gid;
    }
    if (access(layout.data_file().c_str(), F_OK) == 0)
        return {};
    return make_registry_files(layout, group);
}

Status check_replaceable(const keyauth::RegistryLayout& layout) {
    const std::string& dir = layout.dir;
    const std::string parent = parent_of(dir);
    const std::string replaced = "registry " + dir + " is replaced as a whole (a load or a " +
                                 "rebuild builds " + rebuild_prefix(layout) +
                                 ".XXXXXX beside it and exchanges the two): ";
    if (faccessat(AT_FDCWD, parent.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
        const int error = errno;
        return make_error(error == EACCES ? Errc::permission_denied : Errc::io_error,
                          replaced + "cannot create in " + parent + " (" + std::strerror(error) +
                              "); let keyauth-sync write " + parent +
                              " (systemd: ReadWritePaths=" + parent +
                              "), or set KEYAUTH_REGISTRY / --registry to a directory inside "
                              "one it can write (docs/FLEET.md)");
    }
    struct stat parent_st {};
    if (stat(parent.c_str(), &parent_st) != 0)
        return system_error(parent);
    // The directory itself, not what a symbolic link names: rename(2) moves the link.
    struct statx dir_st {};
    if (statx(AT_FDCWD, dir.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &dir_st) != 0)
        return errno == ENOENT ? Status() : system_error(dir);  // made in the parent
    // st_dev alone misses a bind mount within one file system.
    bool mount_root = makedev(dir_st.stx_dev_major, dir_st.stx_dev_minor) != parent_st.st_dev;
#ifdef STATX_ATTR_MOUNT_ROOT
    mount_root = mount_root ||
                 (dir_st.stx_attributes_mask & dir_st.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
#endif
    if (mount_root)
        return make_error(Errc::invalid_argument,
                          replaced + dir +
                              " must not be a mount point; mount the volume at a parent and set "
                              "KEYAUTH_REGISTRY / --registry to a directory inside it "
                              "(docs/FLEET.md)");
    return {};
}

keyauth::Result<keyauth::RegistryLayout> registry_behind_links(const keyauth::RegistryLayout& layout) {
    struct stat st {};
    if (lstat(layout.dir.c_str(), &st) != 0 || !S_ISLNK(st.st_mode))
        return layout;
    std::unique_ptr<char, decltype(&free)> resolved(realpath(layout.dir.c_str(), nullptr), &free);
    if (!resolved) {
        const int error = errno;
        return make_error(Errc::io_error, "registry " + layout.dir +
                                              " is a symbolic link to no directory (" +
                                              std::strerror(error) + ")");
    }
    return keyauth::RegistryLayout{std::string(resolved.get())};
}

std::vector<std::string> remove_rebuild_leftovers(const keyauth::RegistryLayout& layout) {
    const fs::path prefix = rebuild_prefix(layout);
    const std::string own_name = prefix.filename().string();
    const std::string parent = parent_of(prefix.string());
    std::vector<std::string> others;
    std::error_code error;
    for (const fs::directory_entry& entry : fs::directory_iterator(parent, error)) {
        const std::string name = entry.path().filename().string();
        // DIR.rebuild.XXXXXX, or DIR.rebuild as keyauth-sync named it before.
        const bool rebuild_named =
            name.compare(0, own_name.size(), own_name) == 0 &&
            (name.size() == own_name.size() ||
             (name.size() == own_name.size() + 1 + kUniqueLength && name[own_name.size()] == '.'));
        struct stat st {};
        if (!rebuild_named || lstat(entry.path().c_str(), &st) != 0)
            continue;
        // Ours is a directory of our user: in a sticky parent no one else can
        // move it, nor write in it. Anything else (another user's, a link)
        // is neither followed nor removed.
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
            others.push_back(entry.path().string() + " (" + keyauth::user_named(st.st_uid) + "'s)");
            continue;
        }
        std::error_code ignored;
        fs::remove_all(entry.path(), ignored);
    }
    return others;
}

void discard_rebuild(const keyauth::RegistryLayout& built) {
    std::error_code ignored;
    fs::remove_all(built.dir, ignored);
}

namespace {

// Everything of a rebuild but the exchange: the new registry in fresh.dir
// (made empty, 0700), filled, with the old one's other files, modes and group, durable.
Status build_beside(const keyauth::RegistryLayout& layout, BuiltRegistry& built,
                    const std::function<Status(keyauth::LmdbRegistry&)>& fill) {
    const keyauth::RegistryLayout& fresh = built.layout;
    struct stat dir_st {};
    struct stat data_st {};
    if (stat(layout.dir.c_str(), &dir_st) != 0)
        return system_error(layout.dir);
    if (stat(layout.data_file().c_str(), &data_st) != 0)
        return system_error(layout.data_file());
    // Its lock first (not copied): held from before the exchange on, it
    // is the replica's lock from the exchange on.
    const std::string lock_path = sync_lock_path(fresh);
    built.lock = keyauth::UniqueFd(
        ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!built.lock.valid())
        return system_error("cannot create " + lock_path);
    if (Status s = lock_without_waiting(built.lock, lock_path, fresh); !s)
        return s;
    if (Status s = make_registry_files(fresh, data_st.st_gid); !s)
        return s;
    {
        auto registry = keyauth::LmdbRegistry::open(fresh.dir, keyauth::OpenMode::read_write);
        if (!registry)
            return registry.error();
        if (Status s = fill(**registry); !s)
            return s;
    }
    std::error_code error;
    for (const fs::directory_entry& entry : fs::directory_iterator(layout.dir, error)) {
        const std::string name = entry.path().filename().string();
        if (!entry.is_regular_file() || is_of_the_old_lmdb(layout, name) ||
            access((fresh.dir + "/" + name).c_str(), F_OK) == 0)
            continue;
        if (Status s = copy_file(entry.path().string(), fresh.dir + "/" + name); !s)
            return s;
    }
    if (error)
        return make_error(Errc::io_error, layout.dir + ": " + error.message());
    // The directory last: its group and setgid bit as the old one's.
    if (chown(fresh.dir.c_str(), dir_st.st_uid, dir_st.st_gid) != 0 ||
        chmod(fresh.dir.c_str(), dir_st.st_mode & 07777) != 0)
        return system_error(fresh.dir);
    return keyauth::fsync_directory(fresh.dir);
}

}  // namespace

keyauth::Result<BuiltRegistry> build_rebuild(
    const keyauth::RegistryLayout& layout,
    const std::function<Status(keyauth::LmdbRegistry&)>& fill) {
    std::string name = rebuild_prefix(layout) + "." + std::string(kUniqueLength, 'X');
    if (mkdtemp(name.data()) == nullptr)
        return system_error("cannot create " + name).error();
    BuiltRegistry built{keyauth::RegistryLayout{name}, {}};
    // A refused fill or a failed copy leaves nothing behind.
    if (Status s = build_beside(layout, built, fill); !s) {
        discard_rebuild(built.layout);
        return s.error();
    }
    return built;
}

Status exchange_rebuild(const keyauth::RegistryLayout& layout, BuiltRegistry& built,
                        const std::function<Status(keyauth::LmdbRegistry&)>& before_exchange,
                        const std::function<void()>& swapped,
                        const std::function<Status()>& still_replaceable,
                        keyauth::UniqueFd& replica_lock) {
    const keyauth::RegistryLayout& fresh = built.layout;
    const Status exchanged = [&]() -> Status {
        if (before_exchange) {
            auto registry = keyauth::LmdbRegistry::open(fresh.dir, keyauth::OpenMode::read_write);
            if (!registry)
                return registry.error();
            if (Status s = before_exchange(**registry); !s)
                return s;
        }
        // Under the old registry's write lock: a keytool between its lock
        // and its last write finishes on the old registry first, and one
        // waiting for the lock takes the new one's (WriterLock::acquire).
        auto lock = keyauth::WriterLock::acquire(
            layout.writer_lock(), keyauth::WriterLock::Scope::writes, kSwapLockWaitMillis);
        if (!lock)
            return lock.error();
        if (Status s = still_replaceable(); !s)
            return s;
        if (renameat2(AT_FDCWD, fresh.dir.c_str(), AT_FDCWD, layout.dir.c_str(),
                      RENAME_EXCHANGE) != 0)
            return system_error("cannot swap in " + fresh.dir);
        // The new DIR/sync.lock, held since before the exchange, is now the
        // replica's lock; the old one goes with the old registry.
        replica_lock = std::move(built.lock);
        return {};
    }();
    if (!exchanged) {
        // Kept for another try while writer.lock is busy; else nothing is left.
        if (exchanged.code() != Errc::busy)
            discard_rebuild(fresh);
        return exchanged;
    }
    swapped();
    if (Status s = keyauth::fsync_directory(parent_of(layout.dir)); !s)
        return s;
    discard_rebuild(fresh);  // now the old registry
    return {};
}

Status rebuild_registry(const keyauth::RegistryLayout& layout, keyauth::UniqueFd& replica_lock,
                        const std::function<Status(keyauth::LmdbRegistry&)>& fill,
                        const std::function<void()>& swapped,
                        const std::function<Status()>& still_replaceable) {
    auto built = build_rebuild(layout, fill);
    if (!built)
        return built.status();
    Status exchanged =
        exchange_rebuild(layout, *built, {}, swapped, still_replaceable, replica_lock);
    // exchange_rebuild keeps a fill only for a busy writer.lock; this caller
    // keeps none.
    if (exchanged.code() == Errc::busy)
        discard_rebuild(built->layout);
    return exchanged;
}

keyauth::Result<keyauth::UniqueFd> lock_replica(const keyauth::RegistryLayout& layout) {
    const std::string path = sync_lock_path(layout);
    // Only in a directory a writer would write: the lock is the first thing
    // made in it, before LMDB judges the registry.
    const auto open_directory = [&] {
        return keyauth::UniqueFd(
            ::open(layout.dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    };
    keyauth::UniqueFd dir = open_directory();
    struct stat dir_st {};
    if (!dir.valid() || fstat(dir.get(), &dir_st) != 0)
        return system_error("cannot open registry " + layout.dir).error();
    if ((dir_st.st_uid != 0 && dir_st.st_uid != geteuid()) ||
        (dir_st.st_mode & (S_IWGRP | S_IWOTH)))
        return make_error(Errc::permission_denied,
                          "registry " + layout.dir + " is owned by " +
                              keyauth::user_named(dir_st.st_uid) +
                              ", or others may write it: keyauth-sync keeps only a directory of "
                              "root's or its own user's, that no one else may write");
    // An exchange may replace the directory between the open and the lock:
    // the file locked must be the one the path names then. Its holder keeps
    // both locked across an exchange, so that the next try finds it held.
    for (int tries = 0; tries < 3; ++tries) {
        keyauth::UniqueFd fd(
            ::openat(dir.get(), kSyncLockName, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd.valid())
            return system_error("cannot open " + path).error();
        if (Status s = lock_without_waiting(fd, path, layout); !s)
            return s.error();
        struct stat locked {};
        struct stat named {};
        if (fstat(fd.get(), &locked) == 0 && stat(path.c_str(), &named) == 0 &&
            locked.st_dev == named.st_dev && locked.st_ino == named.st_ino)
            return fd;
        dir = open_directory();
        if (!dir.valid())
            return system_error("cannot open registry " + layout.dir).error();
    }
    return make_error(Errc::io_error, "cannot lock " + path + ": replaced at every try");
}

namespace {

// What the servers will load as their CA: one PEM certificate of a CA,
// nothing but white space around it.
Status check_ca_certificate(std::string_view pem) {
    static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
    static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
    static constexpr std::string_view kSpace = " \t\r\n";
    const std::size_t begin = pem.find_first_not_of(kSpace);
    const std::size_t end = pem.find(kEnd);
    if (begin == std::string_view::npos || pem.substr(begin, kBegin.size()) != kBegin ||
        end == std::string_view::npos)
        return make_error(Errc::invalid_argument, "not a PEM certificate");
    if (pem.find_first_not_of(kSpace, end + kEnd.size()) != std::string_view::npos)
        return make_error(Errc::invalid_argument, "more than one certificate");
    auto certificate = keyauth::parse_certificate_pem(pem.substr(begin, end + kEnd.size() - begin));
    if (!certificate)
        return make_error(Errc::invalid_argument, certificate.error().message);
    if (X509_check_ca(certificate->get()) < 1)
        return make_error(Errc::invalid_argument, "not a CA certificate");
    return {};
}

}  // namespace

Status install_ca_certificate(const keyauth::RegistryLayout& layout, const std::string& pem) {
    auto current = keyauth::read_small_file(layout.ca_cert());
    if (current && *current == pem)
        return {};
    if (Status s = check_ca_certificate(pem); !s)
        return make_error(Errc::invalid_argument, "etcd's CA certificate refused (" +
                                                      s.error().message + "): " + layout.ca_cert() +
                                                      " kept as it is");
    return keyauth::write_file_exclusive(layout.ca_cert(), pem, 0644, true);
}

}  // namespace keysync
