// Checks on a registry directory that readers and writers make alike.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "keyauth/registry_layout.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

Status check_directory(const std::string& dir);
// Present, or an error that names the fix.
Status check_file(const std::string& dir, const std::string& path, const char* name);
// As sshd's StrictModes: a registry whose directory or files someone other
// than its owner may write is no registry to trust.
// Below a sticky directory others may write (/tmp), the owner must also
// be root or the caller: any user may create the name there first.
Status check_only_owner_writes(const RegistryLayout& layout);

// The accounts Debian and other distributions run NGINX's workers and
// Mosquitto as: a registry they own is refused by every server.
inline constexpr const char* kServerUsers[] = {"www-data", "nginx", "mosquitto"};
// Writers (keytool, keyauth-sync): the registry is root's or the caller's.
Status check_owner_may_write(const std::string& dir);
// check_registry_ownership as a writer opens it: a directory, root's or the
// caller's (check_owner_may_write), that no one else may write.
Status check_registry_ownership_to_write(std::string_view dir);
// Servers: the registry is neither the server process's own (unless root)
// nor one of kServerUsers'.
Status check_owner_for_servers(const std::string& dir);

// Which file a path names now: a file replaced on disk has a new identity.
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const FileIdentity& o) const { return device == o.device && inode == o.inode; }
};
bool identify(const std::string& path, FileIdentity& out);

Error with_dir(const std::string& dir, const Error& error);

// The user a server's processes will run as (NGINX's workers).
struct ServerUser {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;  // primary; the supplementary groups come from the name
};
// Can that user enter the registry and read the files the servers map, and
// not write them? POSIX's classes: the owner's bits, else a group's, else
// others'. Files that are missing are check_registry_directory()'s to judge.
Status check_fit_for_workers(const RegistryLayout& layout, const ServerUser& user);

}  // namespace keyauth
