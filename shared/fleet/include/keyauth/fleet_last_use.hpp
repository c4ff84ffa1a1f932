// Last use per host, collected by the fleet: each host's keyauth-sync
// publishes what its servers' last-use files record (read_last_use), for the
// clients of its registry, rounded down to the start of each UTC day, under
//
//     /keyauth-usage/<fleet id>/<host>/<shard>
//
// outside /keyauth/, which the replicas watch: a publish never wakes a
// replica, never moves a host's commit.seq. keytool --etcd reads every host's
// shards and takes the latest per client. "At least this recent", as the
// files: shown and filtered on, never read by anything that admits or refuses.
//
// A shard (at most kLastUseShardMaxBytes) is, in version 1:
//
//     u8 version (1) | varint count (>= 1) | count entries, ids strictly
//     increasing:  varint shared | varint suffix length | suffix | varint day
//
// front-coded ids (`shared` bytes of the previous id, exactly the prefix the
// two have in common, then the suffix), each a valid client id; day = Unix
// days (UTC); varints LEB128, minimal, at most 5 bytes. A reader refuses
// anything else (another version, a byte too many or too few): a record it
// misread could show a used client as unused.
//
// Beside its shards, every interval (changed or not), each host puts when it
// last published and how often it does, under
//
//     /keyauth-usage-hosts/<fleet id>/<host>
//
// (outside /keyauth-usage/: a shard reader never meets it; outside /keyauth/
// too), in version 1 the text "v1 published_at=<unix seconds> interval=<seconds>".
// A reader calls a host stale when that is older than 2 intervals and a
// minute: its clients may have been used since, so "unused" may not be. A
// host that never published (no marker, no shards) is unknown to readers:
// never named stale.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyauth/etcd_client.hpp"
#include "keyauth/last_use.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

inline constexpr std::string_view kFleetUsagePrefix = "/keyauth-usage/";
// etcd takes requests up to 1.5 MiB; a value goes base64 (4/3) through the
// JSON gateway: a quarter of it leaves room for the rest of the request.
inline constexpr std::size_t kLastUseShardMaxBytes = 256 * 1024;
inline constexpr std::uint8_t kLastUseShardVersion = 1;
inline constexpr std::int64_t kSecondsPerDay = 86400;
inline constexpr std::string_view kFleetUsageHostsPrefix = "/keyauth-usage-hosts/";
// The longest --publish-last-use-interval: a host's marker cannot keep it
// looking fresh for longer than two weeks and six minutes after it was
// written (2 intervals, a minute, and kMarkerClockSkewSeconds ahead).
inline constexpr std::int64_t kMaxPublishIntervalSeconds = 7 * kSecondsPerDay;
// A marker dated this far ahead of the reader's clock is not believed fresh.
inline constexpr std::int64_t kMarkerClockSkewSeconds = 300;
// A host is named for publishing ids the registry does not hold only past
// this many (and past the registry's size): fewer are what deletes since
// its last pass explain.
inline constexpr std::size_t kFloodWarningFloor = 1000;

// The start of the UTC day holding unix_seconds (a time earlier or equal:
// still "at least this recent").
std::int64_t start_of_utc_day(std::int64_t unix_seconds) noexcept;

// The fleet id as /keyauth/fleet_id holds it (hex), checked before it names a key.
Status check_fleet_id(std::string_view fleet_id);

// "/keyauth-usage/<fleet id>/"; "/keyauth-usage/<fleet id>/<host>/"; and one shard's key.
std::string fleet_usage_prefix(std::string_view fleet_id);
std::string fleet_usage_host_prefix(std::string_view fleet_id, std::string_view host);
std::string fleet_usage_shard_key(std::string_view fleet_id, std::string_view host,
                                  std::size_t shard);

// A key under fleet_usage_prefix(fleet_id): its host (a valid host name) and
// shard number (decimal, no leading zero); an error naming the key otherwise.
struct UsageShardKey {
    std::string host;
    std::size_t shard = 0;
};
Result<UsageShardKey> parse_fleet_usage_key(std::string_view fleet_id, std::string_view key);

// The uses as shards of at most max_bytes each, days rounded down, ids in
// order; none for no uses. Ids must be valid client ids (read_last_use's are).
std::vector<std::string> encode_last_use_shards(const LastUseMap& uses,
                                                std::size_t max_bytes = kLastUseShardMaxBytes);
// One shard back: id -> the start of its day (Unix seconds). Anything not
// exactly as encode_last_use_shards writes it is refused (Errc::registry_corrupt).
// Every id of the shard, kept or not: bounded by one shard's size only; what
// reads a prefix of shards merges them with a filter (merge_last_use_shard).
Result<LastUseMap> decode_last_use_shard(std::string_view bytes);

// Whose last use a reader keeps: the registry's clients (or fewer: show
// keeps its one), and how many clients the registry holds. A host's entries
// for other ids are dropped as its shards are read, never held: what a
// reader holds is bounded by the registry, not by what a host wrote (a
// host's etcd user can fill its own prefix, up to etcd's quota). There is
// no "keep every id": an empty `keep` (KeptClients{}, nothing()) keeps
// nothing, so a filter forgotten can never hold unbounded ids.
struct KeptClients {
    std::function<bool(std::string_view id)> keep;
    std::size_t registry_size = 0;
    // How many of the registry's ids `keep` accepts: all (list, the
    // console: the entries it refuses are then exactly those of ids the
    // registry does not hold) or fewer (show: 1, so at least all but
    // registry_size - 1 of those refused are).
    std::size_t registry_ids_kept = 0;

    // No client's: for a caller that reads no fleet (keytool without --etcd).
    static KeptClients nothing() { return {}; }
};

// Entries read from shards, and of those how many `keep` refused.
struct ShardEntries {
    std::size_t read = 0;
    std::size_t dropped = 0;
};

// One shard's entries merged into `into` (the latest day per id), those
// `keep` refuses (all, for an empty `keep`) dropped as read and counted in
// `entries`. A shard not exactly as encode_last_use_shards writes it is
// refused as decode_last_use_shard refuses it (`into` may then hold part of
// it).
Status merge_last_use_shard(std::string_view bytes,
                            const std::function<bool(std::string_view id)>& keep, LastUseMap& into,
                            ShardEntries& entries);

// A host's publish marker: when its keyauth-sync last published all its
// shards, and every how many seconds it publishes.
struct PublishMarker {
    std::int64_t published_at = 0;
    std::int64_t interval_seconds = 0;
};
// "/keyauth-usage-hosts/<fleet id>/" and one host's marker key under it.
std::string fleet_usage_marker_prefix(std::string_view fleet_id);
std::string fleet_usage_marker_key(std::string_view fleet_id, std::string_view host);
// Its host (a valid host name), or an error naming the key.
Result<std::string> parse_fleet_usage_marker_key(std::string_view fleet_id, std::string_view key);
std::string encode_publish_marker(const PublishMarker& marker);
// Anything not exactly as encode_publish_marker writes it (another version,
// a number out of range or not minimal, a byte more) is refused.
Result<PublishMarker> decode_publish_marker(std::string_view bytes);

// What one host published, all its shards merged (the kept clients'), and
// its marker (none: a keyauth-sync older than markers published the shards,
// or markers_read false: this etcd user may not read them).
struct HostLastUse {
    std::string host;
    LastUseMap uses;
    std::optional<PublishMarker> marker;
    bool markers_read = true;
    ShardEntries entries;  // in its shards, every id's, kept or not
};

// Why a host's last use may be out of date at `now`, if it may.
enum class HostStaleness {
    fresh,
    stale,         // marker older than 2 intervals and a minute
    no_marker,     // shards without a marker: published by an older keyauth-sync
    marker_ahead,  // marker dated ahead of now (a clock ahead, or forged)
    not_judged,    // markers not readable by this etcd user: no host named stale
};
HostStaleness host_staleness(const HostLastUse& host, std::int64_t now) noexcept;

// Every host's (those with shards or a marker), in host order, read at one
// etcd revision, and what the reader should be told (keytool on stderr, the
// console in last_use_errors): a host whose shards hold more entries of ids
// the registry does not hold than it has clients, and over
// kFloodWarningFloor (fewer: clients deleted since its last pass; dropped
// all the same); markers this etcd user may not read (then no host is
// judged stale: markers_read false). A host with a malformed shard, marker
// or key under its prefix is left out of `hosts` and named in `refused`
// (the error names the host and the key): a reader that filters on last use
// must fail then (that host's clients could look unused), one that only
// shows it shows the other hosts'. A key that names no host, too many keys
// or etcd failing is an error.
struct RefusedHost {
    std::string host;
    Error error;
};
struct FleetLastUse {
    std::vector<HostLastUse> hosts;
    std::vector<RefusedHost> refused;  // in host order
    std::vector<std::string> warnings;
    // False: the markers could not be read, so whether any host is stale is
    // unknown (not "none is"), even of hosts not in `hosts`.
    bool markers_read = true;
};
Result<FleetLastUse> read_fleet_last_use(EtcdClient& etcd, std::string_view fleet_id,
                                         const KeptClients& kept);
// The fleet id etcd holds (/keyauth/fleet_id), checked; an error before `init`.
Result<std::string> read_fleet_id(EtcdClient& etcd);

}  // namespace keyauth
