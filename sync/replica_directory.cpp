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

std::string rebuild_dir(const keyauth::RegistryLayout& layout) {
    return layout.dir + ".rebuild";
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
                                 "rebuild builds " + rebuild_dir(layout) +
                                 " beside it and exchanges the two): ";
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

Status check_rebuild_leftovers(const keyauth::RegistryLayout& layout) {
    const std::string leftovers = rebuild_dir(layout);
    struct stat st {};
    if (lstat(leftovers.c_str(), &st) != 0)
        return errno == ENOENT ? Status() : system_error(leftovers);
    if (st.st_uid == geteuid())
        return {};
    // Not ours: removed it would have been walked as we walk our own.
    return make_error(Errc::permission_denied,
                      leftovers + " is owned by " + keyauth::user_named(st.st_uid) + ", not by " +
                          keyauth::user_named(geteuid()) +
                          " who runs keyauth-sync: it is no rebuild of ours; remove it, or keep "
                          "the registry in a directory only root and its owner may write");
}

void remove_rebuild_leftovers(const keyauth::RegistryLayout& layout) {
    if (!check_rebuild_leftovers(layout))
        return;
    std::error_code ignored;
    fs::remove_all(rebuild_dir(layout), ignored);
}

namespace {

// Everything of a rebuild but the exchange: the new registry at fresh.dir,
// filled, with the old one's other files, modes and group, durable.
Status build_beside(const keyauth::RegistryLayout& layout, const keyauth::RegistryLayout& fresh,
                    const std::function<Status(keyauth::LmdbRegistry&)>& fill) {
    struct stat dir_st {};
    struct stat data_st {};
    if (stat(layout.dir.c_str(), &dir_st) != 0)
        return system_error(layout.dir);
    if (stat(layout.data_file().c_str(), &data_st) != 0)
        return system_error(layout.data_file());
    if (mkdir(fresh.dir.c_str(), 0700) != 0)
        return system_error(fresh.dir);
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

Status build_rebuild(const keyauth::RegistryLayout& layout,
                     const std::function<Status(keyauth::LmdbRegistry&)>& fill) {
    if (Status s = check_rebuild_leftovers(layout); !s)
        return s;
    remove_rebuild_leftovers(layout);
    Status built = build_beside(layout, keyauth::RegistryLayout{rebuild_dir(layout)}, fill);
    // A refused fill or a failed copy leaves nothing behind.
    if (!built)
        remove_rebuild_leftovers(layout);
    return built;
}

Status exchange_rebuild(const keyauth::RegistryLayout& layout,
                        const std::function<Status(keyauth::LmdbRegistry&)>& before_exchange,
                        const std::function<void()>& swapped,
                        const std::function<Status()>& still_replaceable) {
    const keyauth::RegistryLayout fresh{rebuild_dir(layout)};
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
        return {};
    }();
    if (!exchanged) {
        // Kept for another try while writer.lock is busy; else nothing is left.
        if (exchanged.code() != Errc::busy)
            remove_rebuild_leftovers(layout);
        return exchanged;
    }
    swapped();
    if (Status s = keyauth::fsync_directory(parent_of(layout.dir)); !s)
        return s;
    remove_rebuild_leftovers(layout);  // now the old registry
    return {};
}

Status rebuild_registry(const keyauth::RegistryLayout& layout,
                        const std::function<Status(keyauth::LmdbRegistry&)>& fill,
                        const std::function<void()>& swapped,
                        const std::function<Status()>& still_replaceable) {
    if (Status s = build_rebuild(layout, fill); !s)
        return s;
    Status exchanged = exchange_rebuild(layout, {}, swapped, still_replaceable);
    // exchange_rebuild keeps a fill only for a busy writer.lock; this caller
    // keeps none.
    if (exchanged.code() == Errc::busy)
        remove_rebuild_leftovers(layout);
    return exchanged;
}

keyauth::Result<keyauth::UniqueFd> lock_replica(const keyauth::RegistryLayout& layout) {
    // Beside the directory, whatever way it is spelt ("DIR/" would put the
    // lock inside, where a rebuild swaps it away).
    std::string dir = layout.dir;
    while (dir.size() > 1 && dir.back() == '/')
        dir.pop_back();
    const std::string path = dir + ".sync.lock";
    keyauth::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid())
        return system_error("cannot open " + path).error();
    // Made by another user first (beside a registry in /tmp), it would be
    // theirs to hold locked for ever, and to say what they like in.
    struct stat st {};
    if (fstat(fd.get(), &st) != 0)
        return system_error(path).error();
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        return make_error(Errc::permission_denied,
                          "lock " + path + " is " +
                              (S_ISREG(st.st_mode) ? "owned by " + keyauth::user_named(st.st_uid)
                                                   : std::string("not a regular file")) +
                              ", not a file of " + keyauth::user_named(geteuid()) +
                              " who runs keyauth-sync: remove it, or keep the registry in a "
                              "directory only root and its owner may write");
    }
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            return system_error("cannot lock " + path).error();
        char holder[32] = {0};
        const ssize_t n = pread(fd.get(), holder, sizeof holder - 1, 0);
        std::string pid(holder, n > 0 ? static_cast<std::size_t>(n) : 0);
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
            pid.pop_back();
        return make_error(Errc::already_exists,
                          "another keyauth-sync (pid " + (pid.empty() ? "?" : pid) +
                              ") keeps registry " + layout.dir + " (lock " + path +
                              "); one per registry");
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd.get(), 0) != 0 || pwrite(fd.get(), pid.data(), pid.size(), 0) < 0)
        return system_error(path).error();
    return fd;
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
