// What keyauth-sync records of its replica between commits: when etcd last
// answered, and the etcd revision the clients stand at. A small file beside
// the registry (RegistryLayout::fleet_contact), not LMDB: every LMDB commit
// moves commit.seq, which empties every server's caches and makes the broker
// re-check every live session, and neither a heartbeat (every 10 s) nor
// etcd's revision moving for keys outside /keyauth/ changes a client.
// Read by keyauth-sync at start and by `keytool status`: its owner's beside
// LMDB, a member of the registry's group's (a monitoring user, who may not
// take writer.lock to read LMDB) alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "keyauth/registry_layout.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

struct ReplicaContact {
    std::int64_t contact = 0;  // when etcd last answered (unix seconds)
    // The etcd revision the clients stand at: LMDB's own (`over`, its
    // fleet.revision) or a later one when nothing under /keyauth/ changed in
    // between. Said of LMDB's state at transaction `generation` only.
    std::int64_t revision = 0;
    std::int64_t over = 0;
    std::uint64_t generation = 0;
    // LMDB's bookkeeping at `generation` that `keytool status` shows: whether
    // keyauth-sync holds the registry (fleet.held set), the etcd cluster and
    // the fleet it replicates (digits and lower-case letters, up to 64).
    bool held = false;
    std::string cluster;
    std::string fleet_id;
};

// Replaces the file in one rename, 0640 with the registry directory's group
// (no secret in it: `keytool status` by that group). Not synced: see the
// definition.
Status write_replica_contact(const RegistryLayout& layout, const ReplicaContact& contact);
// Before a registry is loaded afresh where another LMDB was (moved away by
// an operator): the file speaks of that one, whose transaction numbers and
// revisions the new one may meet again.
Status discard_replica_contact(const RegistryLayout& layout);

// A replica's progress as it stands: LMDB's bookkeeping (fleet.revision and
// fleet.contact, read in one transaction at LMDB transaction `generation`)
// with the file's contact if newer, and its revision if the file describes
// that very state of LMDB (no commit since it was written).
struct ReplicaProgress {
    std::int64_t revision = 0;  // 0: not a replica
    std::int64_t contact = 0;   // 0: never
    // Why the file was there but ignored (unreadable, a link, not the
    // registry directory owner's, group- or other-writable); empty when it
    // was read or is missing.
    std::string contact_file_refused;
};
ReplicaProgress replica_progress(const RegistryLayout& layout,
                                 const std::optional<std::string>& stored_revision,
                                 const std::optional<std::string>& stored_contact,
                                 std::uint64_t generation);

// What `keytool status` shows of a registry. Its owner (who may write the
// directory) reads LMDB under writer.lock, and the file as replica_progress
// does; a member of its group reads lookup.idx (the clients) and the file
// alone, as keyauth-sync last wrote it (at most a heartbeat, 10 s, behind:
// `recorded_only`).
struct ReplicaStatus {
    std::size_t clients = 0;
    ReplicaProgress progress;         // revision 0: not a replica (no file, for the group)
    std::optional<std::string> held;  // why keyauth-sync holds the registry, if it does
    std::string cluster;
    std::string fleet_id;
    bool recorded_only = false;
};
Result<ReplicaStatus> read_replica_status(const RegistryLayout& layout);

}  // namespace keyauth
