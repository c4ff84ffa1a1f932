#include "client_last_use.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "fleet.hpp"
#include "output.hpp"

namespace keytool {
namespace {

// A shard holds days: "2026-12-03".
std::string format_day(std::int64_t unix_seconds) {
    const auto seconds = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
    return text;
}

// "3 h 10 min", "2 d 4 h", "45 s": how long ago, to the two largest units.
std::string format_age(std::int64_t seconds) {
    const std::int64_t days = seconds / 86400, hours = seconds % 86400 / 3600,
                       minutes = seconds % 3600 / 60;
    if (days > 0)
        return std::to_string(days) + " d " + std::to_string(hours) + " h";
    if (hours > 0)
        return std::to_string(hours) + " h " + std::to_string(minutes) + " min";
    if (minutes > 0)
        return std::to_string(minutes) + " min";
    return std::to_string(seconds) + " s";
}

}  // namespace

std::string stale_as_of(const keyauth::HostLastUse& host) {
    if (!host.marker)
        return "stale: as of an unknown time, no publish marker";
    return "stale: as of " + format_time(host.marker->published_at);
}

bool is_stale(const keyauth::HostLastUse& host, std::int64_t now) {
    const auto staleness = keyauth::host_staleness(host, now);
    return staleness != keyauth::HostStaleness::fresh &&
           staleness != keyauth::HostStaleness::not_judged;
}

nlohmann::ordered_json stale_hosts_json(const std::vector<keyauth::HostLastUse>& hosts,
                                        bool markers_read, std::int64_t now) {
    if (!markers_read)
        return nullptr;
    nlohmann::ordered_json stale = nlohmann::ordered_json::array();
    for (const auto& host : hosts) {
        if (!is_stale(host, now))
            continue;
        nlohmann::ordered_json entry;
        entry["host"] = host.host;
        if (host.marker)
            entry["published_at"] = host.marker->published_at;
        else
            entry["published_at"] = nullptr;
        stale.push_back(std::move(entry));
    }
    return stale;
}

std::string describe_stale_host(const keyauth::HostLastUse& host, std::int64_t now) {
    switch (keyauth::host_staleness(host, now)) {
    case keyauth::HostStaleness::no_marker:
        return host.host + ": publishes no marker (a keyauth-sync older than markers, or "
                           "the marker deleted): when it last published is not known";
    case keyauth::HostStaleness::marker_ahead:
        return host.host + ": marker dated " + format_time(host.marker->published_at) +
               ", ahead of this clock (its clock is wrong, or the marker forged): not believed";
    case keyauth::HostStaleness::not_judged:
        return host.host + ": its marker not readable by this etcd user: when it last "
                           "published is not known";
    case keyauth::HostStaleness::stale:
    case keyauth::HostStaleness::fresh:
        break;
    }
    return host.host + ": last published " + format_age(now - host.marker->published_at) +
           " ago (" + format_time(host.marker->published_at) + "; it publishes every " +
           format_age(host.marker->interval_seconds) + ")";
}

std::string ClientLastUse::by_host(std::string_view id, std::int64_t now) const {
    std::string text;
    for (const auto& host : hosts) {
        const auto found = host.uses.find(id);
        if (found == host.uses.end())
            continue;
        if (!text.empty())
            text += ", ";
        // Host names are checked (host_name.hpp) before they get here.
        text += format_day(found->second) + " (" + host.host;
        text += is_stale(host, now) ? ", " + stale_as_of(host) + ")" : ")";
    }
    return text.empty() ? "never" : text;
}

void ClientLastUse::add_by_host_field(nlohmann::ordered_json& object, std::string_view id) const {
    nlohmann::ordered_json seen = nlohmann::ordered_json::object();
    for (const auto& host : hosts) {
        if (const auto found = host.uses.find(id); found != host.uses.end())
            seen[host.host] = found->second;
    }
    object["last_used_by_host"] = std::move(seen);
}

keyauth::KeptClients kept_clients(const std::vector<keyauth::ClientRecord>& records) {
    const auto keep = [&records](std::string_view id) {
        const auto at = std::lower_bound(
            records.begin(), records.end(), id,
            [](const keyauth::ClientRecord& record, std::string_view id) { return record.id < id; });
        return at != records.end() && at->id == id;
    };
    return keyauth::KeptClients{keep, records.size(), records.size()};
}

keyauth::Result<ClientLastUse> read_client_last_use(const Invocation& invocation,
                                                    const std::vector<std::string>& files,
                                                    const keyauth::KeptClients& kept,
                                                    LastUseNeed need) {
    ClientLastUse last_use;
    if (!files.empty() || !invocation.etcd.enabled()) {
        auto read = read_last_use_files(files);
        if (!read)
            return read.error();
        last_use.merged = std::move(*read);
        last_use.any_source = true;
    }
    if (!invocation.etcd.enabled())
        return last_use;
    auto fleet = read_fleet_last_use(invocation.etcd, kept);
    if (!fleet && need == LastUseNeed::to_show) {
        // Shown only: a host's bad shard must not cost the operator `show`
        // (mid-incident) or a listing. Filtering fails instead: a host left
        // out could make a used client look unused.
        if (fleet.error().code != keyauth::Errc::permission_denied)
            std::fprintf(stderr, "keytool: last use in etcd left out: %s\n",
                         fleet.error().message.c_str());
        last_use.markers_read = false;  // no host judged: stale_hosts unknown, not none
        return last_use;
    }
    if (!fleet)
        return keyauth::make_error(fleet.error().code,
                                   "last use in etcd: " + fleet.error().message);
    // A host whose shards or marker are not as written: filtering fails
    // (its clients could look unused), showing leaves that host out only.
    if (!fleet->refused.empty() && need == LastUseNeed::to_filter) {
        const keyauth::Error& first = fleet->refused.front().error;
        return keyauth::make_error(first.code, "last use in etcd: " + first.message);
    }
    for (const auto& refused : fleet->refused)
        std::fprintf(stderr, "keytool: last use in etcd left out: %s\n",
                     refused.error.message.c_str());
    for (const auto& warning : fleet->warnings)
        std::fprintf(stderr, "keytool: last use: %s\n", warning.c_str());
    for (const auto& host : fleet->hosts)
        keyauth::merge_last_use(last_use.merged, host.uses);
    last_use.any_source = last_use.any_source || !fleet->hosts.empty();
    // A host left out may be stale: none named stale would not be known.
    last_use.markers_read = fleet->markers_read && fleet->refused.empty();
    last_use.hosts = std::move(fleet->hosts);
    return last_use;
}

}  // namespace keytool
