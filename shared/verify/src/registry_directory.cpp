#include "registry_directory.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <deque>
#include <iterator>
#include <mutex>
#include <string_view>
#include <vector>

#include "keyauth/files.hpp"
#include "keyauth/registry.hpp"
#include "index_file.hpp"

namespace keyauth {

Status check_directory(const std::string& dir) {
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT) {
            return make_error(Errc::not_found,
                              "registry " + dir + " does not exist (run keytool init)");
        }
        return make_error(err == EACCES ? Errc::permission_denied : Errc::not_found,
                          "registry " + dir + ": " + std::strerror(err));
    }
    if (!S_ISDIR(st.st_mode)) {
        return make_error(Errc::invalid_argument, "registry " + dir + " is not a directory");
    }
    return {};
}

Status check_file(const std::string& dir, const std::string& path, const char* name) {
    if (access(path.c_str(), F_OK) == 0)
        return {};
    if (errno == ENOENT) {
        return make_error(Errc::not_found,
                          "registry " + dir + " has no " + name + " (run keytool init)");
    }
    return make_error(errno == EACCES ? Errc::permission_denied : Errc::io_error,
                      "registry " + dir + ": " + std::strerror(errno));
}

namespace {

// A path's names in order, "" and "." left out.
std::deque<std::string> names_of(std::string_view path) {
    std::deque<std::string> names;
    std::string_view::size_type at = 0;
    while (at < path.size()) {
        const std::string_view::size_type slash = path.find('/', at);
        const std::string_view name =
            path.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
        if (!name.empty() && name != ".")
            names.emplace_back(name);
        if (slash == std::string_view::npos)
            break;
        at = slash + 1;
    }
    return names;
}

std::string parent_of(const std::string& dir) {
    const std::string::size_type slash = dir.rfind('/');
    return slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
}

Error replaceable_by_others(const std::string& registry, const std::string& crossed,
                            const std::string& why) {
    return make_error(Errc::permission_denied, "registry " + registry + ": " + crossed + why);
}

// As sshd's StrictModes for the path above a user's files: every directory
// crossed and every link followed is root's or the registry owner's, and
// no directory crossed may be written by its group or others unless it is
// sticky (/tmp), where only an entry's owner may rename it. Whoever could
// change one of them could lead the path to a registry of their own.
Status check_crossed(const std::string& registry, const std::string& crossed,
                     const struct stat& st, uid_t owner) {
    if (st.st_uid != 0 && st.st_uid != owner) {
        return replaceable_by_others(registry, crossed,
                                     " is owned by another user (uid " +
                                         std::to_string(st.st_uid) +
                                         "), who could replace the registry: make root its "
                                         "owner, or move the registry");
    }
    if (S_ISDIR(st.st_mode) && (st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
        return replaceable_by_others(registry, crossed,
                                     " is writable by its group or others, who could replace "
                                     "the registry: run chmod go-w " + crossed);
    }
    return {};
}

bool others_may_create_in(const std::string& dir) {
    struct stat st {};
    return lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
           (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

// The path walked as the kernel walks it, links followed one by one, so
// that a directory crossed only inside a link's target is judged too.
// first_made_in: the sticky directory others may write (/tmp) in which a
// name on the path is not root's: whoever made that name first owns it.
Status check_path_to(const std::string& registry, uid_t owner, std::string& first_made_in) {
    std::string path = registry;
    if (path.empty() || path.front() != '/') {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd) == nullptr)
            return file_error(errno, ".");
        path = std::string(cwd) + "/" + path;
    }
    std::deque<std::string> pending = names_of(path);
    std::string at = "/";
    struct stat st {};
    if (lstat(at.c_str(), &st) != 0)
        return file_error(errno, at);
    if (Status s = check_crossed(registry, at, st, owner); !s)
        return s;
    for (int links = 0; !pending.empty();) {
        const std::string name = std::move(pending.front());
        pending.pop_front();
        if (name == "..") {
            at = parent_of(at);  // `at` holds no link: its parent is the kernel's
            continue;
        }
        const std::string next = at == "/" ? "/" + name : at + "/" + name;
        if (lstat(next.c_str(), &st) != 0)
            return file_error(errno, next);
        if (st.st_uid != 0 && first_made_in.empty() && others_may_create_in(at))
            first_made_in = at;
        if (S_ISLNK(st.st_mode)) {
            if (Status s = check_crossed(registry, next, st, owner); !s)
                return s;
            char target[PATH_MAX];
            const ssize_t length = readlink(next.c_str(), target, sizeof target);
            if (++links > 40 || length <= 0 || length == static_cast<ssize_t>(sizeof target))
                return file_error(length < 0 ? errno : ELOOP, next);
            const std::string_view followed(target, static_cast<std::size_t>(length));
            std::deque<std::string> names = names_of(followed);
            pending.insert(pending.begin(), names.begin(), names.end());
            if (followed.front() == '/')
                at = "/";
            continue;
        }
        if (pending.empty())
            break;  // the registry itself, judged by its own rule
        if (!S_ISDIR(st.st_mode))
            return file_error(ENOTDIR, next);
        if (Status s = check_crossed(registry, next, st, owner); !s)
            return s;
        at = next;
    }
    return {};
}

Result<struct stat> stat_of(const std::string& dir) {
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0)
        return file_error(errno, dir);
    return st;
}

}  // namespace

// Someone who may write the directory, a directory above it or these files
// could swap in an index or a counter of their own. Judged by readers and
// writers alike.
Status check_only_owner_writes(const RegistryLayout& layout) {
    struct stat dir {};
    if (stat(layout.dir.c_str(), &dir) != 0)
        return file_error(errno, layout.dir);
    if (dir.st_mode & (S_IWGRP | S_IWOTH)) {
        return make_error(Errc::permission_denied,
                          "registry " + layout.dir +
                              " is writable by its group or others: run chmod go-w " + layout.dir);
    }
    std::string first_made_in;
    if (Status s = check_path_to(layout.dir, dir.st_uid, first_made_in); !s)
        return s;
    // In /tmp a name is whoever's made it first (after a reboot too): only
    // what root made there is surely root's choice.
    if (!first_made_in.empty() && dir.st_uid != geteuid()) {
        return make_error(Errc::permission_denied,
                          "registry " + layout.dir + " is owned by " + user_named(dir.st_uid) +
                              ", who made its path in " + first_made_in +
                              ", where any user may make a name first: keep a registry there "
                              "only in a directory root made, or move it");
    }
    for (const std::string& path : layout.group_readable_files()) {
        struct stat file {};
        if (lstat(path.c_str(), &file) != 0)
            continue;  // judged where it is needed
        if (file.st_uid != dir.st_uid) {
            return make_error(Errc::permission_denied,
                              "registry " + layout.dir + ": " + path + " is owned by " +
                                  user_named(file.st_uid) + ", not by the registry's owner, " +
                                  user_named(dir.st_uid));
        }
        if (!S_ISREG(file.st_mode) || (file.st_mode & (S_IWGRP | S_IWOTH))) {
            return make_error(Errc::permission_denied,
                              "registry " + layout.dir + ": " + path +
                                  " is not a regular file that only the registry's owner "
                                  "may write");
        }
    }
    return {};
}

// Whoever owns the registry chose its CA and its clients: a writer adds to
// it only if that is root or itself.
Status check_owner_may_write(const std::string& dir) {
    auto st = stat_of(dir);
    if (!st)
        return st.error();
    const uid_t me = geteuid();
    if (st->st_uid == 0 || st->st_uid == me)
        return {};
    return make_error(Errc::permission_denied,
                      "registry " + dir + " is owned by " + user_named(st->st_uid) +
                          ", neither root nor " + user_named(me) +
                          " who runs this: its owner could have put in its own CA and "
                          "clients; write it as root or as its owner, or make a new one");
}

namespace {

// kServerUsers' uids. Each name is asked of the name service until it has
// answered (a uid, or no such user), then never again, and while it fails at
// most once a minute: a worker reopening a replaced registry must not wait
// on NSS (it may be LDAP) at every reopening, and a name service that failed
// at a process's first opening must not leave it never refusing another
// server's registry.
std::vector<uid_t> server_user_ids() {
    constexpr std::int64_t kAskAgainAfterSeconds = 60;
    static std::mutex guard;
    static std::vector<uid_t> found;
    static bool answered[std::size(kServerUsers)] = {};
    static std::int64_t next_ask = 0;
    const std::lock_guard<std::mutex> lock(guard);
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    if (now.tv_sec < next_ask)
        return found;
    next_ask = 0;
    for (std::size_t at = 0; at < std::size(kServerUsers); ++at) {
        if (answered[at])
            continue;
        uid_t uid = 0;
        const UserLookup asked = uid_of_user(kServerUsers[at], uid);
        if (asked == UserLookup::found)
            found.push_back(uid);
        answered[at] = asked != UserLookup::failed;
        if (!answered[at])
            next_ask = now.tv_sec + kAskAgainAfterSeconds;
    }
    return found;
}

}  // namespace

// A server's user may only read a registry: one it owns it could write,
// and a registry another server's user owns, that server could.
Status check_owner_for_servers(const std::string& dir) {
    auto st = stat_of(dir);
    if (!st)
        return st.error();
    const uid_t owner = st->st_uid;
    const uid_t me = geteuid();
    if (owner != 0 && owner == me) {
        return make_error(Errc::permission_denied,
                          "registry " + dir + " is owned by " + user_named(owner) +
                              ", the user this server runs as, who could then write it: make "
                              "root (or the user keytool runs as) its owner");
    }
    for (const uid_t server : server_user_ids()) {
        if (server == owner && owner != 0) {
            return make_error(Errc::permission_denied,
                              "registry " + dir + " is owned by " + user_named(owner) +
                                  ", a server's user, who could then write it: make root (or "
                                  "the user keytool runs as) its owner");
        }
    }
    return {};
}

bool identify(const std::string& path, FileIdentity& out) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0)
        return false;
    out = FileIdentity{st.st_dev, st.st_ino};
    return true;
}

Error with_dir(const std::string& dir, const Error& error) {
    return make_error(error.code, "registry " + dir + ": " + error.message);
}

Status check_registry_ownership(std::string_view dir) {
    const RegistryLayout layout{std::string(dir)};
    if (Status s = check_directory(layout.dir); !s)
        return s;
    return check_only_owner_writes(layout);
}

Status check_registry_ownership_to_write(std::string_view dir) {
    const RegistryLayout layout{std::string(dir)};
    if (Status s = check_directory(layout.dir); !s)
        return s;
    if (Status s = check_owner_may_write(layout.dir); !s)
        return s;
    return check_only_owner_writes(layout);
}

Status check_registry_directory(std::string_view dir_view) {
    const RegistryLayout layout{std::string(dir_view)};
    if (Status s = check_registry_ownership(layout.dir); !s)
        return s;
    if (Status s = check_file(layout.dir, layout.data_file(), "data.mdb"); !s)
        return s;
    struct stat st {};
    if (lstat(layout.lookup_index().c_str(), &st) != 0 && errno == ENOENT) {
        return make_error(Errc::not_found,
                          "registry " + layout.dir +
                              " was made by an older keyauth and has no lookup.idx: run any "
                              "keytool command on it as root once (e.g. keytool list) to "
                              "upgrade it");
    }
    if (Status s = check_file(layout.dir, layout.lookup_index(), "lookup.idx"); !s)
        return s;
    return check_file(layout.dir, layout.commit_sequence(), "commit.seq");
}

namespace {

// other_bit: S_IROTH or S_IXOTH; shifted for the group's and the owner's.
bool permits(const struct stat& st, const ServerUser& user, const gid_t* groups, int ngroups,
             mode_t other_bit) {
    if (st.st_uid == user.uid)
        return (st.st_mode & (other_bit << 6)) != 0;
    for (int i = 0; i < ngroups; ++i) {
        if (st.st_gid == groups[i])
            return (st.st_mode & (other_bit << 3)) != 0;
    }
    return (st.st_mode & other_bit) != 0;
}

Status check_readable_by(const RegistryLayout& layout, const ServerUser& user) {
    gid_t groups[64];
    int ngroups = 64;
    if (getgrouplist(user.name.c_str(), user.gid, groups, &ngroups) == -1)
        ngroups = 64;  // more than that: judged on the first 64
    const auto [index, counter] = layout.served_files();
    const std::pair<std::string, mode_t> needs[] = {
        {layout.dir, S_IXOTH}, {index, S_IROTH}, {counter, S_IROTH}};
    for (const auto& [path, bit] : needs) {
        struct stat st {};
        if (stat(path.c_str(), &st) != 0)
            continue;
        if (permits(st, user, groups, ngroups, bit))
            continue;
        const struct group* owner = getgrgid(st.st_gid);
        return make_error(Errc::permission_denied,
                          "\"" + path + "\" is not readable by \"" + user.name +
                              "\" (its group is \"" + (owner ? owner->gr_name : "?") +
                              "\"), the workers' user: give it that group with the \"user\" "
                              "directive");
    }
    return {};
}

// Workers that own the registry could write it: the master's privilege
// separation would be gone. (A master that is not root starts workers as
// itself, the registry's owner or not: nothing to separate.)
Status check_not_owned_by(const RegistryLayout& layout, const ServerUser& user) {
    struct stat st {};
    if (stat(layout.dir.c_str(), &st) != 0 || st.st_uid != user.uid)
        return {};
    return make_error(Errc::permission_denied,
                      "\"" + layout.dir + "\" is owned by \"" + user.name +
                          "\", the workers' user, who could then write it: make root (or the "
                          "user keytool runs as) its owner, and give \"" + user.name +
                          "\" its group");
}

}  // namespace

Status check_fit_for_workers(const RegistryLayout& layout, const ServerUser& user) {
    if (user.uid == 0)
        return {};
    if (Status s = check_not_owned_by(layout, user); !s)
        return s;
    return check_readable_by(layout, user);
}

Status check_registry_for_servers(std::string_view dir) {
    if (Status s = check_registry_directory(dir); !s)
        return s;
    if (Status s = check_owner_for_servers(std::string(dir)); !s)
        return s;
    const RegistryLayout layout{std::string(dir)};
    auto index = index_file::IndexFile::open(layout.lookup_index(), false);
    if (!index)
        return index.error();
    return {};
}

}  // namespace keyauth
