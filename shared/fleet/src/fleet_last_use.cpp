#include "keyauth/fleet_last_use.hpp"

#include <algorithm>
#include <functional>
#include <map>

#include "keyauth/client_id.hpp"
#include "keyauth/decimal.hpp"
#include "keyauth/etcd_registry.hpp"
#include "keyauth/host_name.hpp"

namespace keyauth {
namespace {

constexpr std::size_t kMaxVarintBytes = 5;  // up to 2^35: days, lengths, counts
// 9999-12-31: a later day is no calendar's, so no record.
constexpr std::uint64_t kLastDay = 2932896;
constexpr std::size_t kMaxFleetIdLength = 64;
// A reader's page of shards: 16 of 256 KiB are about 5.5 MiB of base64 (the
// gateway answers pages of 6 MB whole), and a quarter of the pages of 4.
constexpr std::int64_t kShardsPerPage = 16;
// etcd 3.4 walks the rest of the range for every page: tiny keys by the
// million would cost etcd hours. Readers walk the usage prefix in one go up
// to this many keys, else host by host (each host's range walks its own
// keys only, and a host past its share, most_shards_of_a_host, is refused
// from its count); they refuse more markers (one a host) than kMaxMarkers.
constexpr std::int64_t kMaxUsageKeysInOneWalk = 65536;
constexpr std::int64_t kMaxMarkers = 65536;
// The longest entry (the shared-bytes and length varints, an id of the
// longest kind, not front-coded, and a day of 4 varint bytes), and so the
// fewest entries encode_last_use_shards closes a full shard with.
constexpr std::size_t kLongestEntryBytes = 1 + 1 + kMaxClientIdLength + 4;
constexpr std::size_t kLeastEntriesPerFullShard =
    (kLastUseShardMaxBytes - 1 - kMaxVarintBytes) / kLongestEntryBytes - 1;
// A host's shards beyond its registry's share: a last shard, a registry that
// grew since, and small registries.
constexpr std::int64_t kSpareShardsPerHost = 64;
// Markers are some 40 bytes: a page holds a large fleet's.
constexpr std::int64_t kMarkersPerPage = 1024;
// Six digits at most in a shard's key.
constexpr std::uint64_t kHighestShardNumber = 999999;

void put_varint(std::string& out, std::uint64_t value) {
    while (value >= 0x80) {
        out.push_back(static_cast<char>((value & 0x7f) | 0x80));
        value >>= 7;
    }
    out.push_back(static_cast<char>(value));
}

std::size_t common_prefix(std::string_view a, std::string_view b) {
    const auto mismatch =
        std::mismatch(a.begin(), a.begin() + std::min(a.size(), b.size()), b.begin());
    return static_cast<std::size_t>(mismatch.first - a.begin());
}

// One entry, its id front-coded after previous ("" for a shard's first).
std::string encoded_entry(std::string_view id, std::string_view previous, std::int64_t seconds) {
    std::string entry;
    const std::size_t shared = common_prefix(id, previous);
    put_varint(entry, shared);
    put_varint(entry, id.size() - shared);
    entry.append(id.substr(shared));
    put_varint(entry, static_cast<std::uint64_t>(
                          start_of_utc_day(std::max<std::int64_t>(seconds, 0)) / kSecondsPerDay));
    return entry;
}

Error corrupt(const std::string& what) {
    return make_error(Errc::registry_corrupt, "last-use shard refused: " + what);
}

// Reads what a shard holds, front to back; every read checks its bounds.
class ShardReader {
  public:
    explicit ShardReader(std::string_view bytes) : bytes_(bytes) {}

    bool at_end() const { return at_ == bytes_.size(); }

    // LEB128, minimal (no redundant zero group), at most kMaxVarintBytes.
    Result<std::uint64_t> varint(const char* what) {
        std::uint64_t value = 0;
        for (std::size_t i = 0; i < kMaxVarintBytes; ++i) {
            if (at_ >= bytes_.size())
                return corrupt(std::string("cut short in ") + what);
            const auto byte = static_cast<std::uint8_t>(bytes_[at_++]);
            value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
            if ((byte & 0x80) == 0) {
                if (byte == 0 && i > 0)
                    return corrupt(std::string("non-minimal number in ") + what);
                return value;
            }
        }
        return corrupt(std::string("number too long in ") + what);
    }

    Result<std::string_view> bytes(std::size_t count) {
        if (bytes_.size() - at_ < count)
            return corrupt("cut short in an id");
        const std::string_view taken = bytes_.substr(at_, count);
        at_ += count;
        return taken;
    }

  private:
    std::string_view bytes_;
    std::size_t at_ = 0;
};

// One entry: front-coded id after `previous`, then its day; into `into`
// (the later day kept) if `keep` takes its id.
Status read_entry(ShardReader& reader, std::string& previous,
                  const std::function<bool(std::string_view)>& keep, LastUseMap& into,
                  ShardEntries& entries) {
    auto shared = reader.varint("an id's shared length");
    if (!shared)
        return shared.error();
    auto suffix_length = reader.varint("an id's length");
    if (!suffix_length)
        return suffix_length.error();
    if (*shared > previous.size() || *suffix_length == 0 ||
        *shared + *suffix_length > kMaxClientIdLength)
        return corrupt("an id's lengths are out of range");
    auto suffix = reader.bytes(static_cast<std::size_t>(*suffix_length));
    if (!suffix)
        return suffix.error();
    std::string id = previous.substr(0, static_cast<std::size_t>(*shared));
    id.append(*suffix);
    if (!is_valid_client_id(id))
        return corrupt("an entry is no valid client id");
    if (!previous.empty() && (id <= previous || common_prefix(id, previous) != *shared))
        return corrupt("ids out of order or not front-coded exactly");
    auto day = reader.varint("a day");
    if (!day)
        return day.error();
    if (*day > kLastDay)
        return corrupt("a day no calendar holds");
    ++entries.read;
    if (keep && keep(id)) {  // no filter keeps nothing, never everything
        const auto seconds = static_cast<std::int64_t>(*day) * kSecondsPerDay;
        auto [it, added] = into.emplace(id, seconds);
        if (!added)
            it->second = std::max(it->second, seconds);
    } else {
        ++entries.dropped;
    }
    previous = std::move(id);
    return {};
}

// A decimal as encode_publish_marker writes it (parse_decimal's one
// spelling), at most `highest`.
std::optional<std::int64_t> parse_marker_number(std::string_view text, std::int64_t highest) {
    const auto value = parse_decimal(text);
    if (!value || *value > static_cast<std::uint64_t>(highest))
        return std::nullopt;
    return static_cast<std::int64_t>(*value);
}

Error bad_marker(const std::string& what) {
    return make_error(Errc::registry_corrupt, "publish marker refused: " + what);
}

// A key printed only once known to be printable: etcd keys are anyone's bytes.
std::string printable_key(std::string_view key) {
    const bool printable =
        std::all_of(key.begin(), key.end(), [](char c) { return c > ' ' && c < 0x7f; });
    return printable ? std::string(key) : std::string("(unprintable)");
}

bool is_lower_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::int64_t start_of_utc_day(std::int64_t unix_seconds) noexcept {
    std::int64_t day = unix_seconds / kSecondsPerDay;
    if (unix_seconds % kSecondsPerDay < 0)
        --day;
    return day * kSecondsPerDay;
}

Status check_fleet_id(std::string_view fleet_id) {
    if (fleet_id.empty() || fleet_id.size() > kMaxFleetIdLength || !is_lower_hex(fleet_id)) {
        return make_error(Errc::registry_corrupt,
                          "etcd's fleet id (/keyauth/fleet_id) is not lower-case hex: not a "
                          "store keytool --etcd init wrote");
    }
    return {};
}

std::string fleet_usage_prefix(std::string_view fleet_id) {
    std::string prefix(kFleetUsagePrefix);
    prefix.append(fleet_id);
    prefix.push_back('/');
    return prefix;
}

std::string fleet_usage_host_prefix(std::string_view fleet_id, std::string_view host) {
    std::string prefix = fleet_usage_prefix(fleet_id);
    prefix.append(host);
    prefix.push_back('/');
    return prefix;
}

std::string fleet_usage_shard_key(std::string_view fleet_id, std::string_view host,
                                  std::size_t shard) {
    return fleet_usage_host_prefix(fleet_id, host) + std::to_string(shard);
}

Result<UsageShardKey> parse_fleet_usage_key(std::string_view fleet_id, std::string_view key) {
    const std::string prefix = fleet_usage_prefix(fleet_id);
    const auto refused = [&] {
        return make_error(Errc::registry_corrupt,
                          "etcd key " + printable_key(key) + " under " + prefix +
                              " is no <host>/<shard>");
    };
    if (key.substr(0, prefix.size()) != prefix)
        return refused();
    const std::string_view rest = key.substr(prefix.size());
    const std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos)
        return refused();
    const std::string_view host = rest.substr(0, slash);
    const std::string_view number = rest.substr(slash + 1);
    if (!check_host_name(host) || host.find('*') != std::string_view::npos)
        return refused();
    const auto shard = parse_decimal(number);
    if (!shard || *shard > kHighestShardNumber)
        return refused();
    return UsageShardKey{std::string(host), static_cast<std::size_t>(*shard)};
}

std::string fleet_usage_marker_prefix(std::string_view fleet_id) {
    std::string prefix(kFleetUsageHostsPrefix);
    prefix.append(fleet_id);
    prefix.push_back('/');
    return prefix;
}

std::string fleet_usage_marker_key(std::string_view fleet_id, std::string_view host) {
    return fleet_usage_marker_prefix(fleet_id) + std::string(host);
}

Result<std::string> parse_fleet_usage_marker_key(std::string_view fleet_id, std::string_view key) {
    const std::string prefix = fleet_usage_marker_prefix(fleet_id);
    const std::string_view host =
        key.substr(0, prefix.size()) == prefix ? key.substr(prefix.size()) : std::string_view();
    if (host.empty() || !check_host_name(host) || host.find('*') != std::string_view::npos) {
        return make_error(Errc::registry_corrupt, "etcd key " + printable_key(key) + " under " +
                                                      prefix + " is no <host>");
    }
    return std::string(host);
}

std::string encode_publish_marker(const PublishMarker& marker) {
    return "v1 published_at=" + std::to_string(marker.published_at) +
           " interval=" + std::to_string(marker.interval_seconds);
}

Result<PublishMarker> decode_publish_marker(std::string_view bytes) {
    constexpr std::string_view kVersion1 = "v1 ";
    constexpr std::string_view kPublishedAt = "published_at=";
    constexpr std::string_view kInterval = " interval=";
    if (bytes.substr(0, 1) == "v" && bytes.substr(0, kVersion1.size()) != kVersion1)
        return bad_marker("not version 1, the only one this keytool reads");
    if (bytes.substr(0, kVersion1.size()) != kVersion1)
        return bad_marker("not a marker (no version)");
    std::string_view rest = bytes.substr(kVersion1.size());
    if (rest.substr(0, kPublishedAt.size()) != kPublishedAt)
        return bad_marker("no published_at");
    rest.remove_prefix(kPublishedAt.size());
    const std::size_t space = rest.find(' ');
    if (space == std::string_view::npos || rest.substr(space, kInterval.size()) != kInterval)
        return bad_marker("no interval");
    const auto published_at = parse_marker_number(
        rest.substr(0, space), static_cast<std::int64_t>(kLastDay) * kSecondsPerDay);
    if (!published_at)
        return bad_marker("published_at is no time");
    const auto interval =
        parse_marker_number(rest.substr(space + kInterval.size()), kMaxPublishIntervalSeconds);
    if (!interval || *interval == 0)
        return bad_marker("interval is no number of seconds from 1 to " +
                          std::to_string(kMaxPublishIntervalSeconds));
    return PublishMarker{*published_at, *interval};
}

HostStaleness host_staleness(const HostLastUse& host, std::int64_t now) noexcept {
    if (!host.markers_read)
        return HostStaleness::not_judged;
    if (!host.marker)
        return HostStaleness::no_marker;
    if (host.marker->published_at > now + kMarkerClockSkewSeconds)
        return HostStaleness::marker_ahead;
    // Two intervals: one pass late (a slow etcd, a retry) is not yet news.
    if (now - host.marker->published_at > 2 * host.marker->interval_seconds + 60)
        return HostStaleness::stale;
    return HostStaleness::fresh;
}

std::vector<std::string> encode_last_use_shards(const LastUseMap& uses, std::size_t max_bytes) {
    // Room for the version byte and the largest count.
    const std::size_t body_limit = max_bytes - 1 - kMaxVarintBytes;
    std::vector<std::string> shards;
    std::string body;
    std::size_t count = 0;
    std::string previous;
    const auto close_shard = [&] {
        std::string shard(1, static_cast<char>(kLastUseShardVersion));
        put_varint(shard, count);
        shard += body;
        shards.push_back(std::move(shard));
        body.clear();
        count = 0;
        previous.clear();
    };
    for (const auto& [id, seconds] : uses) {
        std::string entry = encoded_entry(id, previous, seconds);
        if (count > 0 && body.size() + entry.size() > body_limit) {
            close_shard();
            entry = encoded_entry(id, previous, seconds);  // whole: the shard's first id
        }
        body += entry;
        ++count;
        previous = id;
    }
    if (count > 0)
        close_shard();
    return shards;
}

Result<LastUseMap> decode_last_use_shard(std::string_view bytes) {
    LastUseMap uses;
    ShardEntries entries;
    // Every id: one shard's worth, at most kLastUseShardMaxBytes.
    const auto every_id = [](std::string_view) { return true; };
    if (Status s = merge_last_use_shard(bytes, every_id, uses, entries); !s)
        return s.error();
    return uses;
}

Status merge_last_use_shard(std::string_view bytes,
                            const std::function<bool(std::string_view id)>& keep, LastUseMap& into,
                            ShardEntries& entries) {
    if (bytes.empty())
        return corrupt("empty");
    if (static_cast<std::uint8_t>(bytes[0]) != kLastUseShardVersion) {
        return corrupt("version " + std::to_string(static_cast<std::uint8_t>(bytes[0])) +
                       ", this keytool reads version 1 only");
    }
    if (bytes.size() > kLastUseShardMaxBytes)
        return corrupt("larger than a shard may be");
    ShardReader reader(bytes.substr(1));
    auto count = reader.varint("the count");
    if (!count)
        return count.error();
    if (*count == 0)
        return corrupt("no entries");
    std::string previous;
    for (std::uint64_t i = 0; i < *count; ++i) {
        if (Status s = read_entry(reader, previous, keep, into, entries); !s)
            return s;
    }
    if (!reader.at_end())
        return corrupt("bytes after the last entry");
    return {};
}

Result<std::string> read_fleet_id(EtcdClient& etcd) {
    auto range = etcd.range(kFleetIdKey, "");
    if (!range)
        return range.error();
    if (range->kvs.empty()) {
        return make_error(Errc::not_found,
                          "etcd holds no fleet id: run keytool --etcd URL init first");
    }
    std::string fleet_id = range->kvs.front().value;
    if (Status s = check_fleet_id(fleet_id); !s)
        return s.error();
    return fleet_id;
}

namespace {

Status refuse_too_many(std::int64_t count, std::int64_t limit, const std::string& what,
                       const std::string& prefix) {
    if (count <= limit)
        return {};
    return make_error(Errc::registry_corrupt,
                      "etcd holds " + std::to_string(count) + " " + what + " under " + prefix +
                          ", more than " + std::to_string(limit) +
                          " a fleet can publish: not read (delete what a host should not have "
                          "put; docs/FLEET.md)");
}

// Each key and value under `prefix`, `per_page` at a time, all at one
// revision (set to the first page's). More than most_keys under it (the
// first page's count) refuses the walk; given `keys_over_most`, it ends
// instead, no key read, their count there. on_key may name a key to go on
// from (`skip_to`), past keys it will not read.
Status for_each_published(
    EtcdClient& etcd, const std::string& prefix, std::int64_t per_page, std::int64_t most_keys,
    const char* what, std::int64_t& revision,
    const std::function<Status(const EtcdKeyValue&, std::string& skip_to)>& on_key,
    std::int64_t* keys_over_most = nullptr) {
    const std::string end = etcd_prefix_end(prefix);
    std::string from = prefix;
    for (;;) {
        auto page = etcd.range(from, end, revision, per_page);
        if (!page)
            return page.error();
        if (from == prefix) {
            revision = page->revision;
            if (keys_over_most && page->count > most_keys) {
                *keys_over_most = page->count;
                return {};
            }
            if (Status s = refuse_too_many(page->count, most_keys, what, prefix); !s)
                return s;
        }
        std::string skip_to;
        for (const auto& kv : page->kvs) {
            if (Status s = on_key(kv, skip_to); !s)
                return s;
            if (!skip_to.empty())
                break;
        }
        if (!skip_to.empty()) {
            from = std::move(skip_to);
            continue;
        }
        if (!page->more || page->kvs.empty())
            return {};
        from = page->kvs.back().key;
        from.push_back('\0');
    }
}

// The hosts read so far, and those refused: one host's bad shard or
// marker costs that host, not the fleet.
struct HostsRead {
    std::map<std::string, HostLastUse> hosts;
    std::map<std::string, Error> refused;

    bool host_refused(const std::string& name) const { return refused.count(name) != 0; }
    // The host's entry, or none once it is refused.
    HostLastUse* host(const std::string& name) {
        if (refused.count(name) != 0)
            return nullptr;
        HostLastUse& host = hosts[name];
        host.host = name;
        return &host;
    }
    void refuse(const std::string& name, const std::string& key, const Error& error) {
        hosts.erase(name);
        refused.emplace(name,
                        make_error(error.code, "host " + name + ": etcd key " + printable_key(key) +
                                                   ": " + error.message));
    }
};

// The host a key under the usage prefix is under, when it names one (a key
// there that is no shard is that host's to answer for).
std::optional<std::string> host_of_usage_key(std::string_view fleet_id, std::string_view key) {
    const std::string prefix = fleet_usage_prefix(fleet_id);
    if (key.substr(0, prefix.size()) != prefix)
        return std::nullopt;
    const std::string_view rest = key.substr(prefix.size());
    const std::size_t slash = rest.find('/');
    const std::string_view host = rest.substr(0, slash);
    if (slash == std::string_view::npos || !check_host_name(host) ||
        host.find('*') != std::string_view::npos)
        return std::nullopt;
    return std::string(host);
}

// The most shards a host can need for a registry of `registry_size`: a full
// shard holds at least kLeastEntriesPerFullShard, and a host's registry may
// briefly hold more clients than the reader's (deletes not yet replicated).
std::int64_t most_shards_of_a_host(std::size_t registry_size) {
    return kSpareShardsPerHost +
           2 * static_cast<std::int64_t>(registry_size / kLeastEntriesPerFullShard);
}

// A host past its share (a stolen etcd user crowding its own prefix) is
// left out alone, the rest of its prefix not read.
Error crowding(const KeptClients& kept) {
    return corrupt("more than " + std::to_string(most_shards_of_a_host(kept.registry_size)) +
                   " shards, more than a registry of " + std::to_string(kept.registry_size) +
                   " clients needs: the rest not read");
}

// One key under `host`'s usage prefix: its shard merged into the host's
// entries, or the host refused (past its share, a key that is no shard, a
// shard that does not decode) and the rest of its prefix skipped.
void take_shard(std::string_view fleet_id, const std::string& host, const EtcdKeyValue& kv,
                bool past_share, const KeptClients& kept, HostsRead& read, std::string& skip_to) {
    auto key = parse_fleet_usage_key(fleet_id, kv.key);
    if (past_share)
        read.refuse(host, kv.key, crowding(kept));
    else if (!key)
        read.refuse(host, kv.key, key.error());
    else if (HostLastUse* entry = read.host(host)) {
        if (Status s = merge_last_use_shard(kv.value, kept.keep, entry->uses, entry->entries); !s)
            read.refuse(host, kv.key, s.error());
    }
    if (read.host_refused(host))
        skip_to = etcd_prefix_end(fleet_usage_host_prefix(fleet_id, host));
}

// How many keys `prefix` holds at `revision` (0: now, then set): etcd
// walks them, and sends one value.
Result<std::int64_t> keys_under(EtcdClient& etcd, const std::string& prefix,
                                std::int64_t& revision) {
    auto page = etcd.range(prefix, etcd_prefix_end(prefix), revision, 1);
    if (!page)
        return page.error();
    revision = page->revision;
    return page->count;
}

// Each host's shards merged as read, only the kept clients' entries held,
// in one walk of the usage prefix. A host refused (a bad key or shard, more
// shards than its registry could fill) is left out and the rest of its
// prefix skipped. More keys under the prefix than one walk may take refuse
// the read, or, given `keys_over_one_walk`, end it there, none read.
Status read_shards_in_one_walk(EtcdClient& etcd, std::string_view fleet_id, const KeptClients& kept,
                               std::int64_t& revision, HostsRead& read,
                               std::int64_t* keys_over_one_walk) {
    const std::int64_t most_shards = most_shards_of_a_host(kept.registry_size);
    std::string counted_host;  // keys come sorted: a host's are together
    std::int64_t host_shards = 0;
    return for_each_published(
        etcd, fleet_usage_prefix(fleet_id), kShardsPerPage, kMaxUsageKeysInOneWalk,
        "last-use shards", revision,
        [&](const EtcdKeyValue& kv, std::string& skip_to) -> Status {
            const auto host = host_of_usage_key(fleet_id, kv.key);
            if (!host)  // a key no host answers for refuses the read
                return parse_fleet_usage_key(fleet_id, kv.key).error();
            if (*host != counted_host) {
                counted_host = *host;
                host_shards = 0;
            }
            take_shard(fleet_id, *host, kv, ++host_shards > most_shards, kept, read, skip_to);
            return {};
        },
        keys_over_one_walk);
}

// The same, one range per host that has a marker: etcd walks only that
// host's keys for each page, and a host with more keys than its share is
// refused from its first page's count, its values never read.
Status read_shards_host_by_host(EtcdClient& etcd, std::string_view fleet_id,
                                const KeptClients& kept, std::int64_t revision, HostsRead& read) {
    const std::int64_t most_shards = most_shards_of_a_host(kept.registry_size);
    std::vector<std::string> hosts;
    for (const auto& entry : read.hosts)
        hosts.push_back(entry.first);
    for (const std::string& host : hosts) {
        const std::string prefix = fleet_usage_host_prefix(fleet_id, host);
        auto keys = keys_under(etcd, prefix, revision);
        if (!keys)
            return keys.error();
        if (*keys > most_shards) {
            read.refuse(host, prefix, crowding(kept));
            continue;
        }
        Status walked = for_each_published(
            etcd, prefix, kShardsPerPage, most_shards, "last-use shards", revision,
            [&](const EtcdKeyValue& kv, std::string& skip_to) -> Status {
                take_shard(fleet_id, host, kv, false, kept, read, skip_to);
                return {};
            });
        if (!walked)
            return walked;
    }
    return {};
}

// One walk while the prefix holds few enough keys for etcd to walk them for
// every page (its first page's count says); else host by host from the
// markers (a host without one, a keyauth-sync older than markers, is then
// not read: said). Without markers, too many keys refuse the read.
Status read_shards(EtcdClient& etcd, std::string_view fleet_id, const KeptClients& kept,
                   bool markers_read, std::int64_t& revision, HostsRead& read,
                   std::vector<std::string>& warnings) {
    std::int64_t keys_over_one_walk = 0;
    Status walked = read_shards_in_one_walk(etcd, fleet_id, kept, revision, read,
                                            markers_read ? &keys_over_one_walk : nullptr);
    if (!walked || keys_over_one_walk == 0)
        return walked;
    warnings.push_back("etcd holds " + std::to_string(keys_over_one_walk) + " keys under " +
                       fleet_usage_prefix(fleet_id) + ", more than " +
                       std::to_string(kMaxUsageKeysInOneWalk) +
                       " to read in one walk: read host by host from their publish markers, so "
                       "a host without a marker (a keyauth-sync older than markers) is not read");
    return read_shards_host_by_host(etcd, fleet_id, kept, revision, read);
}

// Of the entries `kept` refused, those that cannot be the registry's: all of
// them when it keeps the whole registry, a lower bound when it keeps fewer.
std::size_t ids_not_in_registry(const ShardEntries& entries, const KeptClients& kept) {
    const std::size_t registry_refused =
        kept.registry_size - std::min(kept.registry_ids_kept, kept.registry_size);
    return entries.dropped - std::min(entries.dropped, registry_refused);
}

Status read_markers(EtcdClient& etcd, std::string_view fleet_id, std::int64_t& revision,
                    HostsRead& read) {
    return for_each_published(etcd, fleet_usage_marker_prefix(fleet_id), kMarkersPerPage,
                              kMaxMarkers, "publish markers", revision,
                              [&](const EtcdKeyValue& kv, std::string&) -> Status {
                                  auto host_name = parse_fleet_usage_marker_key(fleet_id, kv.key);
                                  if (!host_name)
                                      return host_name.error();
                                  auto marker = decode_publish_marker(kv.value);
                                  if (!marker) {
                                      read.refuse(*host_name, kv.key, marker.error());
                                      return {};
                                  }
                                  if (HostLastUse* host = read.host(*host_name))
                                      host->marker = *marker;
                                  return {};
                              });
}

}  // namespace

Result<FleetLastUse> read_fleet_last_use(EtcdClient& etcd, std::string_view fleet_id,
                                         const KeptClients& kept) {
    if (Status s = check_fleet_id(fleet_id); !s)
        return s.error();
    HostsRead read;
    std::map<std::string, HostLastUse>& by_host = read.hosts;
    FleetLastUse fleet;
    std::int64_t revision = 0;  // the first read's, for every later one
    Status markers = read_markers(etcd, fleet_id, revision, read);
    if (!markers && markers.code() != Errc::permission_denied)
        return markers.error();
    if (Status s = read_shards(etcd, fleet_id, kept, markers.ok(), revision, read, fleet.warnings);
        !s)
        return s.error();
    if (!markers) {
        // A role granted before markers existed (docs/FLEET.md, "Upgrading"):
        // last use is still shown, but no host can be judged stale.
        fleet.markers_read = false;
        for (auto& entry : by_host) {
            entry.second.marker.reset();
            entry.second.markers_read = false;
        }
        fleet.warnings.push_back(
            "this etcd user may not read the hosts' publish markers (" +
            fleet_usage_marker_prefix(fleet_id) +
            "): whether a host stopped publishing cannot be judged, so no host is named "
            "stale and a client used on such a host since may look unused; grant the role "
            "read on " + std::string(kFleetUsageHostsPrefix) +
            " (docs/FLEET.md, \"Upgrading: read on the markers\")");
    }
    fleet.hosts.reserve(by_host.size());
    for (auto& entry : by_host) {
        const HostLastUse& host = entry.second;
        const std::size_t foreign = ids_not_in_registry(host.entries, kept);
        if (foreign > kept.registry_size && foreign > kFloodWarningFloor) {
            fleet.warnings.push_back(
                "host " + host.host + " published " + std::to_string(host.entries.read) +
                " last-use entries, at least " + std::to_string(foreign) +
                " of ids the registry does not hold (it holds " +
                std::to_string(kept.registry_size) +
                "; clients deleted since the host's last pass explain a few, not this many): "
                "they are dropped. A host publishes its registry's clients only: find out why "
                "(a host on another registry, its etcd user misused) before deleting " +
                fleet_usage_host_prefix(fleet_id, host.host) +
                ", which deletes that host's published history too (docs/FLEET.md)");
        }
        fleet.hosts.push_back(std::move(entry.second));
    }
    for (auto& [host, error] : read.refused)
        fleet.refused.push_back(RefusedHost{host, std::move(error)});
    return fleet;
}

}  // namespace keyauth
