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
#pragma once

#include <cstddef>
#include <cstdint>
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
Result<LastUseMap> decode_last_use_shard(std::string_view bytes);

// What one host published, all its shards merged.
struct HostLastUse {
    std::string host;
    LastUseMap uses;
};
// Every host's, in host order, read at one etcd revision. A malformed shard
// is an error naming the host and the key.
Result<std::vector<HostLastUse>> read_fleet_last_use(EtcdClient& etcd, std::string_view fleet_id);
// The fleet id etcd holds (/keyauth/fleet_id), checked; an error before `init`.
Result<std::string> read_fleet_id(EtcdClient& etcd);

}  // namespace keyauth
