#include "keyauth/provisioning.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "keyauth/clock.hpp"
#include "keyauth/files.hpp"
#include "keyauth/staged_files.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "keyauth/writer_lock.hpp"
#include "registry_directory.hpp"

namespace keyauth {
namespace {

const std::vector<std::string> kDefaultHosts = {"localhost", "127.0.0.1", "::1"};

bool exists(const std::string& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
}

Result<std::optional<gid_t>> resolve_group(const std::optional<std::string>& name) {
    if (!name)
        return std::optional<gid_t>();
    const group* found = getgrnam(name->c_str());
    if (found == nullptr)
        return make_error(Errc::invalid_argument, "no group named " + *name);
    return std::optional<gid_t>(found->gr_gid);
}

Status validate(const InitOptions& options) {
    if (options.days < 1 || options.days > kMaxDays) {
        return make_error(Errc::invalid_argument,
                          "--days must be between 1 and " + std::to_string(kMaxDays));
    }
    for (const std::string& host : options.hosts) {
        if (Status s = check_host_name(host); !s)
            return s;
    }
    return {};
}

// A directory that was there already is set up only if its owner is the
// caller: someone else could have made it first (in /tmp, any user) and
// would keep the right to replace every file in it.
Status check_made_by_caller(const RegistryLayout& layout) {
    struct stat st {};
    if (lstat(layout.dir.c_str(), &st) != 0)
        return file_error(errno, layout.dir);
    if (S_ISLNK(st.st_mode) && stat(layout.dir.c_str(), &st) != 0)
        return file_error(errno, layout.dir);  // a link's owner: check_only_owner_writes
    if (!S_ISDIR(st.st_mode))
        return make_error(Errc::invalid_argument, "registry " + layout.dir + " is not a directory");
    if (st.st_uid != geteuid()) {
        return make_error(Errc::permission_denied,
                          "registry " + layout.dir + " exists and is owned by " +
                              user_named(st.st_uid) + ", not by " + user_named(geteuid()) +
                              " who runs this, and could replace every file in it: remove it, "
                              "or init it as its owner");
    }
    return {};
}

// The directory exists (created 0750 if not) and is locked against a
// concurrent setup, by a lock only the registry's owner can take (not the
// directory itself, which the servers' group may open and lock).
Result<WriterLock> lock_directory(const RegistryLayout& layout) {
    if (mkdir(layout.dir.c_str(), 0750) != 0) {
        if (errno != EEXIST) {
            return make_error(errno == EACCES ? Errc::permission_denied : Errc::io_error,
                              "cannot create registry " + layout.dir + ": " + std::strerror(errno));
        }
        if (Status s = check_made_by_caller(layout); !s)
            return s.error();
        if (Status s = check_only_owner_writes(layout); !s)
            return s.error();
    }
    auto lock = WriterLock::acquire(layout.writer_lock(), WriterLock::Scope::provisioning);
    if (!lock)
        return make_error(lock.error().code,
                          "registry " + layout.dir + ": " + lock.error().message);
    return lock;
}

Status set_group_and_mode(const std::string& path, std::optional<gid_t> group, mode_t mode) {
    if (group && chown(path.c_str(), static_cast<uid_t>(-1), *group) != 0) {
        return make_error(Errc::permission_denied, path + ": " + std::strerror(errno));
    }
    if (chmod(path.c_str(), mode) != 0) {
        return make_error(Errc::permission_denied, path + ": " + std::strerror(errno));
    }
    return {};
}

Status initialize_locked(const RegistryLayout& layout, const InitOptions& options,
                         std::optional<gid_t> group) {
    const std::int64_t now = unix_now();
    auto authority = CertificateAuthority::create("keyauth CA", options.days, now);
    if (!authority)
        return authority.error();
    const auto& hosts = options.hosts.empty() ? kDefaultHosts : options.hosts;
    auto server = authority->issue_server(hosts, options.days, now);
    if (!server)
        return server.error();

    // Readers (the broker, NGINX workers, keytool list and verify run by the
    // group) read lookup.idx and commit.seq and write nothing;
    // writer.lock stays the writer's alone.
    auto registry = LmdbRegistry::open(layout.dir, OpenMode::create);
    if (!registry)
        return registry.error();
    for (const std::string& path : layout.group_readable_files()) {
        if (Status s = set_group_and_mode(path, group, 0640); !s)
            return s;
    }

    StagedFiles files;
    const SecretString ca_key = authority->private_key_pem();
    Status staged = files.stage(layout.server_cert(), server->certificate_pem, 0640, false, group);
    if (staged) {
        staged =
            files.stage(layout.server_key(), server->private_key_pem.view(), 0640, false, group);
    }
    if (staged)
        staged = files.stage(layout.ca_key(), ca_key.view(), 0600, false);
    // Written last: its presence marks a complete registry.
    if (staged)
        staged = files.stage(layout.ca_cert(), authority->certificate_pem(), 0644, false);
    if (!staged)
        return staged;
    if (Status s = files.publish(); !s)
        return s;
    return set_group_and_mode(layout.dir, group, group ? 02750 : 0750);
}

// The group the readers have now: that of the server key.
std::optional<gid_t> current_group(const RegistryLayout& layout) {
    struct stat st {};
    if (stat(layout.server_key().c_str(), &st) != 0)
        return std::nullopt;
    return st.st_gid;
}

Status reconfigure_locked(const RegistryLayout& layout, const InitOptions& options,
                          std::optional<gid_t> group) {
    if (!options.hosts.empty()) {
        auto authority = CertificateAuthority::load(layout.ca_cert(), layout.ca_key());
        if (!authority)
            return authority.error();
        auto server = authority->issue_server(options.hosts, options.days, unix_now());
        if (!server)
            return server.error();
        const auto readers = group ? group : current_group(layout);
        StagedFiles files;
        Status staged =
            files.stage(layout.server_cert(), server->certificate_pem, 0640, true, readers);
        if (staged) {
            staged = files.stage(layout.server_key(), server->private_key_pem.view(), 0640, true,
                                 readers);
        }
        if (!staged)
            return staged;
        if (Status s = files.publish(); !s)
            return s;
    }
    if (!group)
        return {};
    const auto registry_files = layout.group_readable_files();
    for (const std::string& path : registry_files) {
        if (Status s = set_group_and_mode(path, group, 0640); !s)
            return s;
    }
    for (const std::string& path : {layout.server_cert(), layout.server_key()}) {
        if (Status s = set_group_and_mode(path, group, 0640); !s)
            return s;
    }
    return set_group_and_mode(layout.dir, group, 02750);
}

// Creates the registry or, initialized already, changes its hosts or group.
Status setup(const RegistryLayout& layout, const InitOptions& options) {
    if (Status s = validate(options); !s)
        return s;
    auto group = resolve_group(options.group);
    if (!group)
        return group.error();
    auto lock = lock_directory(layout);
    if (!lock)
        return lock.error();
    if (registry_initialized(layout)) {
        if (options.hosts.empty() && !options.group) {
            return make_error(Errc::already_exists,
                              "registry " + layout.dir + " is already initialized");
        }
        return reconfigure_locked(layout, options, *group);
    }
    for (const std::string& path : {layout.ca_key(), layout.server_cert(), layout.server_key()}) {
        if (exists(path)) {
            return make_error(Errc::already_exists,
                              path + " exists but the registry has no CA; remove it first");
        }
    }
    return initialize_locked(layout, options, *group);
}

}  // namespace

bool registry_initialized(const RegistryLayout& layout) {
    return exists(layout.ca_cert()) && exists(layout.ca_key()) && exists(layout.data_file());
}

Status initialize_registry(const RegistryLayout& layout, const InitOptions& options) {
    return setup(layout, options);
}

Result<CertificateAuthority> load_authority(const RegistryLayout& layout) {
    return CertificateAuthority::load(layout.ca_cert(), layout.ca_key());
}

}  // namespace keyauth
