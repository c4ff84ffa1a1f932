// Where keytool's "last used" comes from: the servers' files given by hand
// (--last-use FILE, once per host) and, with --etcd, what every host's
// keyauth-sync --publish-last-use put into etcd. The latest of all, per
// client: "at least this recent", never a security decision.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "keyauth/fleet_last_use.hpp"
#include "keyauth/last_use.hpp"
#include "keyauth/registry.hpp"
#include "keyauth/result.hpp"

namespace keytool {

struct Invocation;

struct ClientLastUse {
    keyauth::LastUseMap merged;               // files and hosts: the latest per client
    std::vector<keyauth::HostLastUse> hosts;  // from etcd, each host's own
    bool any_source = false;                  // a file given, or a host that published
    // false: whether a host is stale is unknown (FleetLastUse's markers not
    // read, or a host refused and left out)
    bool markers_read = true;

    // "2026-12-03 (host-a), 2026-12-01 (host-b, stale: as of 2026-12-02
    // 08:00:00 +0000 UTC)": each host that saw the client.
    std::string by_host(std::string_view id, std::int64_t now) const;
    // "last_used_by_host": {"host-a": Unix seconds of the day, ...}.
    void add_by_host_field(nlohmann::ordered_json& object, std::string_view id) const;
};

// A host whose last use may be out of date (keyauth::host_staleness): its
// clients may have been used there since it last published.
bool is_stale(const keyauth::HostLastUse& host, std::int64_t now);
// "stale: as of 2026-12-02 08:00:00 +0000 UTC": when what a stale host says was true.
std::string stale_as_of(const keyauth::HostLastUse& host);
// "stale_hosts": [{"host": "edge2", "published_at": Unix seconds, or null
// for a host that publishes no marker}, ...], in host order; null when the
// markers could not be read or a host was left out (!markers_read):
// unknown, so that a script never takes "[]", none stale, for it.
nlohmann::ordered_json stale_hosts_json(const std::vector<keyauth::HostLastUse>& hosts,
                                        bool markers_read, std::int64_t now);
// "edge2: last published 3 h 10 min ago (2026-12-05 09:00:00 +0000 UTC)", or why
// its age is not known; host names are checked before they get here.
std::string describe_stale_host(const keyauth::HostLastUse& host, std::int64_t now);

// The clients of `records` (in id order, as a registry lists them): whose
// last use a reader of the fleet's keeps (it refers to records: read
// before they go).
keyauth::KeptClients kept_clients(const std::vector<keyauth::ClientRecord>& records);

// The files, then (with --etcd) the fleet's shards, the kept clients' only
// (the fleet's warnings said on stderr). Anything that cannot be
// read, or a malformed shard, fails the command: a host left out could make
// a used client look unused. Except, when the caller only shows it (show,
// list --json without --unused): a host whose shard or marker is not one is
// left out, the others shown (said on stderr, naming it); an etcd user not
// allowed to read /keyauth-usage/, or etcd failing: no host's last use is
// shown, as before it existed (the latter said on stderr).
enum class LastUseNeed { to_filter, to_show };
keyauth::Result<ClientLastUse> read_client_last_use(const Invocation& invocation,
                                                    const std::vector<std::string>& files,
                                                    const keyauth::KeptClients& kept,
                                                    LastUseNeed need);

}  // namespace keytool
