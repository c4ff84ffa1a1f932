// A snapshot of the fleet's registry in etcd, read page by page at one
// revision: what a replica loads, rebuilds from, and compares itself with.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keyauth/client_record.hpp"
#include "keyauth/etcd_client.hpp"

namespace keysync {

struct Snapshot {
    std::int64_t revision = 0;
    std::string cluster_id;
    std::string fleet_id;  // empty: etcd holds none
    std::optional<std::string> ca_cert;
    std::size_t clients = 0;
    // Client records a host refuses (keyauth::fleet_record's, or a
    // certificate an earlier record holds): left out, as absent; the first
    // kRefusalsSaid of them to be said: the key (raw, as etcd holds it:
    // escaped where it is said) and why.
    std::size_t refused = 0;
    std::vector<std::pair<std::string, std::string>> refusals;
};
inline constexpr std::size_t kRefusalsSaid = 10;

// What a sink made of one record: taken, or refused (why), which leaves it
// out of the snapshot, as absent, and says it; the read goes on. An error
// of the sink itself (the registry filled failing) ends the read.
struct RecordVerdict {
    std::optional<std::string> refused;  // why; none: taken
    static RecordVerdict taken() { return {}; }
    static RecordVerdict refusal(std::string why) { return {std::move(why)}; }
};
using RecordSink = std::function<keyauth::Result<RecordVerdict>(const keyauth::ClientRecord&)>;

// Everything under /keyauth/ at revision `at` (0: the revision the first
// page is read at), each client record keyauth::fleet_record accepts handed
// to `sink` in id order; `between_pages` runs after each page (of
// etcd.read_page() keys) but the last. A certificate admits one client, the
// first in id order (keyauth::FleetRecordFilter): the sink judges it, since
// a registry filled in id order already holds every certificate claimed
// (a set of them here: ~56 MB at a million clients), and refuses the later
// claimants by its verdict.
keyauth::Result<Snapshot> read_snapshot(keyauth::EtcdClient& etcd, std::int64_t at,
                                        const RecordSink& sink,
                                        const std::function<keyauth::Status()>& between_pages);

// Whether etcd's keys under /keyauth/ at `head` are the very ones it held at
// `ours` (< head), in the cluster `cluster_id`: then a replica at `ours` is
// at `head` too. No key there was put after `ours` (each would carry a mod
// revision past it, a key deleted and put again too), so every key at
// `head` was there at `ours`, unchanged; as many keys at both revisions,
// then none was deleted either. A delete leaves no key to see, so only the
// count at `ours` proves it: a count of what the replica holds would not
// (a key it refuses would stand in for a key deleted). false: a change
// (the watch brings it), another cluster, or `ours` compacted away.
keyauth::Result<bool> fleet_unchanged_between(keyauth::EtcdClient& etcd, std::int64_t ours,
                                              std::int64_t head, const std::string& cluster_id);

}  // namespace keysync
