// What keyauth-sync records of its replica between commits: when etcd last
// answered, and the etcd revision the clients stand at. A small file beside
// the registry (RegistryLayout::fleet_contact), not LMDB: every LMDB commit
// moves commit.seq, which empties every server's caches and makes the broker
// re-check every live session, and neither a heartbeat (every 10 s) nor
// etcd's revision moving for keys outside /keyauth/ changes a client.
// Read by keyauth-sync at start and by `keytool status`.
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

}  // namespace keyauth
