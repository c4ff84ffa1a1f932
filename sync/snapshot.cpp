#include "snapshot.hpp"

#include "keyauth/etcd_registry.hpp"

namespace keysync {

using keyauth::Errc;
using keyauth::make_error;
using keyauth::Result;
using keyauth::Status;

namespace {

// A page belongs to the snapshot only if it was read at the snapshot's
// revision, in the snapshot's cluster. etcd's header says its current
// revision (>= the one asked for), not the one read, so the proof is that no
// record is newer than the revision and the store is not behind it.
Status check_page(const keyauth::EtcdRange& page, std::int64_t at, const std::string& cluster) {
    if (page.cluster_id != cluster)
        return make_error(Errc::io_error, "etcd cluster changed during a snapshot (" + cluster +
                                              " then " + page.cluster_id + ")");
    if (page.revision < at)
        return make_error(Errc::io_error, "etcd answered at revision " +
                                              std::to_string(page.revision) +
                                              ", behind the snapshot's " + std::to_string(at));
    for (const keyauth::EtcdKeyValue& kv : page.kvs) {
        if (kv.mod_revision > at)
            return make_error(Errc::io_error, "etcd sent " + kv.key + " at revision " +
                                                  std::to_string(kv.mod_revision) +
                                                  " in a snapshot at " + std::to_string(at));
    }
    return {};
}

}  // namespace

// Every page at one revision: `at`, or (0) the revision the first page was
// read at, asked for explicitly in every later page. Taking each answer's
// header revision instead moved the snapshot forward page by page, and the
// watch then skipped what changed on the pages already read.
Result<Snapshot> read_snapshot(keyauth::EtcdClient& etcd, std::int64_t at,
                               const std::function<Status(const keyauth::ClientRecord&)>& sink,
                               const std::function<Status()>& between_pages) {
    Snapshot snapshot;
    const std::string end = keyauth::etcd_prefix_end(keyauth::kFleetPrefix);
    std::string from(keyauth::kFleetPrefix);
    for (bool first = true;; first = false) {
        auto page = etcd.range(from, end, at, etcd.read_page());
        if (!page)
            return page.error();
        if (first) {
            snapshot.cluster_id = page->cluster_id;
            if (at == 0)
                at = page->revision;
        }
        if (Status s = check_page(*page, at, snapshot.cluster_id); !s)
            return s.error();
        for (const keyauth::EtcdKeyValue& kv : page->kvs) {
            if (kv.key == keyauth::kFleetCaCertKey) {
                snapshot.ca_cert = kv.value;
                continue;
            }
            if (kv.key == keyauth::kFleetIdKey) {
                snapshot.fleet_id = kv.value;
                continue;
            }
            if (!keyauth::fleet_client_id(kv.key))
                continue;
            auto record = keyauth::fleet_record(kv);
            if (!record) {
                ++snapshot.refused;
                continue;
            }
            if (Status s = sink(*record); !s)
                return s.error();
            ++snapshot.clients;
        }
        if (!page->more || page->kvs.empty())
            break;
        from = page->kvs.back().key + '\0';
        if (Status s = between_pages(); !s)
            return s.error();
    }
    snapshot.revision = at;
    return snapshot;
}

}  // namespace keysync
