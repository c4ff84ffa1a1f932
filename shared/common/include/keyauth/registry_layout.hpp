// Where everything lives in a registry directory.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace keyauth {

inline constexpr std::string_view kDefaultRegistryDir = "/var/lib/keyauth";
inline constexpr std::string_view kRegistryEnvVar = "KEYAUTH_REGISTRY";

struct RegistryLayout {
    std::string dir;

    std::string data_file() const { return dir + "/data.mdb"; }
    // What the servers read: the clients, hashed by id and by fingerprint.
    std::string lookup_index() const { return dir + "/lookup.idx"; }
    // The commit counter naming the index copy readers use (they map it read-only).
    std::string commit_sequence() const { return dir + "/commit.seq"; }
    // The writer's lock: its owner's alone.
    std::string writer_lock() const { return dir + "/writer.lock"; }
    // LMDB's own lock file, from registries made before keyauth 0.2.
    std::string legacy_lock_file() const { return dir + "/lock.mdb"; }
    std::string ca_cert() const { return dir + "/ca_cert.pem"; }
    std::string ca_key() const { return dir + "/ca_key.pem"; }
    std::string server_cert() const { return dir + "/server_cert.pem"; }
    std::string server_key() const { return dir + "/server_key.pem"; }
    // A fleet host's keyauth-sync: when etcd last answered, and the etcd
    // revision its clients stand at, rewritten between commits (keyauth/
    // replica_contact.hpp); its owner's alone, never read by the servers.
    std::string fleet_contact() const { return dir + "/fleet-contact"; }
    // Where the next one is written before it is renamed over the last.
    std::string fleet_contact_staging() const { return dir + "/.fleet-contact.new"; }

    // What the servers map: the only registry files they read.
    std::array<std::string, 2> served_files() const { return {lookup_index(), commit_sequence()}; }
    // The registry's files its group reads and only its owner writes.
    std::array<std::string, 3> group_readable_files() const {
        return {data_file(), lookup_index(), commit_sequence()};
    }
};

// --registry DIR, else $KEYAUTH_REGISTRY, else /var/lib/keyauth.
RegistryLayout resolve_registry(std::optional<std::string_view> flag);

}  // namespace keyauth
