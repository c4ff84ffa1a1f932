#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "client_last_use.hpp"
#include "commands.hpp"
#include "keyauth/client_listing.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/duration.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "record_store.hpp"

namespace keytool {
namespace {

constexpr std::size_t kMinIdWidth = 20;
constexpr std::size_t kTimeWidth = 29;  // "2023-02-05 01:55:18 +0000 UTC"

std::string repeat(std::string_view piece, std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i)
        out += piece;
    return out;
}

std::string rule(std::string_view left, std::string_view middle, std::string_view right,
                 std::size_t id_width, bool last_used) {
    std::string line = std::string(left) + repeat("─", 8) + std::string(middle) +
                       repeat("─", id_width + 2) + std::string(middle) +
                       repeat("─", kTimeWidth + 2) + std::string(middle) +
                       repeat("─", kTimeWidth + 2);
    if (last_used)
        line += std::string(middle) + repeat("─", kTimeWidth + 2);
    return line + std::string(right) + "\n";
}

std::string pad_right(std::string text, std::size_t width) {
    if (text.size() < width)
        text.append(width - text.size(), ' ');
    return text;
}

std::string row(const std::string& rownum, const std::string& id, const std::string& from,
                const std::string& until, const std::string* last_used, std::size_t id_width) {
    std::string line = "│ " + rownum + " │ " + pad_right(id, id_width) + " │ " +
                       pad_right(from, kTimeWidth) + " │ " + pad_right(until, kTimeWidth);
    if (last_used)
        line += " │ " + pad_right(*last_used, kTimeWidth);
    return line + " │\n";
}

// Output in blocks: a million rows never sit in memory at once. What is
// not flushed when a listing fails is dropped.
class Output {
  public:
    void add(std::string_view text) {
        buffer_ += text;
        if (buffer_.size() >= kBlock)
            flush();
    }
    void flush() {
        std::fwrite(buffer_.data(), 1, buffer_.size(), stdout);
        buffer_.clear();
    }

  private:
    static constexpr std::size_t kBlock = 64 * 1024;
    std::string buffer_;
};

// Which clients `list` shows: every filter given must hold.
struct ListFilter {
    std::optional<keyauth::EndingBy> ending;
    std::optional<keyauth::InState> in_state;
    std::optional<keyauth::UnusedSince> unused;

    bool matches(std::string_view id, const keyauth::ClientCredentials& c) const {
        return (!ending || ending->matches(c)) && (!in_state || in_state->matches(c)) &&
               (!unused || unused->matches(id));
    }
};

using ClientVisit = std::function<void(std::string_view id, const keyauth::ClientCredentials&)>;

// Every client that matches, in id order, from one published state of the
// registry's lookup.idx, the owner's as a member's (open_registry_to_read:
// nothing held while the rows are written; a walk that would start over,
// a commit published between its passes, fails once output has begun: the
// rows printed cannot be taken back), or from the fleet's listing.
class ClientSource {
  public:
    virtual ~ClientSource() = default;
    virtual keyauth::Status each(const ListFilter& filter, const ClientVisit& visit) = 0;
};

class RegistrySource final : public ClientSource {
  public:
    explicit RegistrySource(std::unique_ptr<keyauth::LocalRegistry> registry)
        : registry_(std::move(registry)) {}

    keyauth::Status each(const ListFilter& filter, const ClientVisit& visit) override {
        bool visited = false;
        bool changed = false;
        keyauth::Status walked = registry_->scan(
            false, [&] { changed = visited; },
            [&](std::string_view id, const keyauth::ClientCredentials& c) {
                if (changed)
                    return false;
                if (filter.matches(id, c)) {
                    visited = true;
                    visit(id, c);
                }
                return true;
            });
        if (!walked)
            return walked;
        if (changed)
            return keyauth::make_error(keyauth::Errc::io_error,
                                       "the registry changed while it was listed: run list again");
        return {};
    }

  private:
    std::unique_ptr<keyauth::LocalRegistry> registry_;
};

class FleetSource final : public ClientSource {
  public:
    explicit FleetSource(std::vector<keyauth::ClientRecord> records) : records_(std::move(records)) {}

    keyauth::Status each(const ListFilter& filter, const ClientVisit& visit) override {
        for (const auto& record : records_) {
            if (filter.matches(record.id, record.credentials))
                visit(record.id, record.credentials);
        }
        return {};
    }

  private:
    std::vector<keyauth::ClientRecord> records_;  // in id order, as etcd lists them
};

// last_use: the hosts' records merged, or null when no file was given. Two
// walks: the first finds the widest id, for the table's column.
keyauth::Status print_table(ClientSource& source, const ListFilter& filter,
                            const keyauth::LastUseMap* last_use) {
    std::size_t id_width = kMinIdWidth;
    if (keyauth::Status s = source.each(filter, [&](std::string_view id, const auto&) {
            id_width = std::max(id_width, id.size());
        });
        !s)
        return s;
    const bool with_last_use = last_use != nullptr;
    Output out;
    out.add(rule("┌", "┬", "┐", id_width, with_last_use));
    const std::string heading = "LAST USED";
    out.add(row("ROWNUM", "ID", "VALID FROM", "EXPIRE", with_last_use ? &heading : nullptr,
                id_width));
    out.add(rule("├", "┼", "┤", id_width, with_last_use));
    std::size_t rownum = 0;
    keyauth::Status listed =
        source.each(filter, [&](std::string_view id, const keyauth::ClientCredentials& c) {
            char number[16];
            std::snprintf(number, sizeof number, "%6zu", ++rownum);
            std::string used;
            if (with_last_use)
                used = format_last_use(*last_use, id);
            out.add(row(number, std::string(id), format_time(c.validity.not_before),
                        format_time(c.validity.not_after), with_last_use ? &used : nullptr,
                        id_width));
        });
    if (!listed)
        return listed;
    out.add(rule("└", "┴", "┘", id_width, with_last_use));
    out.flush();
    return {};
}

// stale_hosts: the same for every client (the array stays an array), set
// when the fleet's last use was read; null when staleness was not judged.
keyauth::Status print_json(ClientSource& source, const ListFilter& filter,
                           const keyauth::LastUseMap* last_use,
                           const std::optional<nlohmann::ordered_json>& stale_hosts) {
    Output out;
    std::size_t printed = 0;
    out.add("[");
    keyauth::Status listed =
        source.each(filter, [&](std::string_view id, const keyauth::ClientCredentials& c) {
            out.add(printed++ == 0 ? "\n" : ",\n");
            nlohmann::ordered_json client;
            client["id"] = std::string(id);
            add_credential_fields(client, c);
            if (last_use)
                add_last_use_field(client, *last_use, id);
            if (stale_hosts)
                client["stale_hosts"] = *stale_hosts;
            out.add("  " + json_text(client));
        });
    if (!listed)
        return listed;
    out.add(printed == 0 ? "]\n" : "\n]\n");
    out.flush();
    return {};
}

// fleet_records: the fleet's clients (with --etcd), read before its last use.
keyauth::Result<std::unique_ptr<ClientSource>> client_source(
    const Invocation& invocation, std::optional<std::vector<keyauth::ClientRecord>> fleet_records) {
    if (fleet_records)
        return std::unique_ptr<ClientSource>(
            std::make_unique<FleetSource>(std::move(*fleet_records)));
    auto registry = open_local_to_read(invocation.registry);
    if (!registry)
        return registry.error();
    return std::unique_ptr<ClientSource>(std::make_unique<RegistrySource>(std::move(*registry)));
}

// On stderr, each host whose last use may be out of date, and what that
// means for the answer: it is given anyway (a host down for a week must not
// stop every report), but not taken as the whole truth.
void warn_stale_hosts(const std::vector<keyauth::HostLastUse>& hosts, std::int64_t now,
                      bool filtering_unused) {
    std::size_t stale = 0;
    for (const auto& host : hosts)
        stale += is_stale(host, now) ? 1 : 0;
    if (stale == 0)
        return;
    std::fprintf(stderr,
                 "keytool: last use may be out of date on %zu host%s (stopped publishing?)%s:\n",
                 stale, stale == 1 ? "" : "s",
                 filtering_unused
                     ? "; clients used there since may be listed as unused"
                     : "");
    for (const auto& host : hosts) {
        if (is_stale(host, now))
            std::fprintf(stderr, "keytool:   %s\n", describe_stale_host(host, now).c_str());
    }
}

}  // namespace

int run_list(const Invocation& invocation, const Arguments& arguments) {
    if (!arguments.operands.empty())
        return report_failure("list takes no operands");
    ListFilter filter;
    const std::int64_t now = keyauth::unix_now();
    if (const auto expiring = arguments.value("expiring")) {
        auto seconds = keyauth::parse_duration(*expiring);
        if (!seconds)
            return report_failure("--expiring: " + seconds.error().message);
        filter.ending = keyauth::ending_within(now, *seconds);
    }
    // With --etcd, the fleet's clients first: the hosts' last use is kept for those only.
    std::optional<std::vector<keyauth::ClientRecord>> fleet_records;
    if (invocation.etcd.enabled()) {
        auto records = list_fleet(invocation.etcd);
        if (!records)
            return report_failure(records.error());
        fleet_records = std::move(*records);
    }
    // With --etcd, the hosts' published last use too (list --json carries it).
    std::optional<keyauth::LastUseMap> last_use;
    std::optional<nlohmann::ordered_json> stale_hosts;
    const bool wants_last_use = arguments.flag("last-use") || arguments.flag("unused");
    if (wants_last_use || (invocation.etcd.enabled() && arguments.flag("json"))) {
        auto read = read_client_last_use(
            invocation, arguments.values("last-use"),
            fleet_records ? kept_clients(*fleet_records) : keyauth::KeptClients::nothing(),
            arguments.flag("unused") ? LastUseNeed::to_filter : LastUseNeed::to_show);
        if (!read)
            return report_failure(read.error());
        if (!read->any_source && arguments.flag("unused")) {
            return report_failure("--unused needs the hosts' last use: no host of the fleet "
                                  "publishes it (keyauth-sync --publish-last-use FILE), and no "
                                  "--last-use FILE was given");
        }
        if (read->any_source)
            last_use = std::move(read->merged);
        if (invocation.etcd.enabled() && last_use) {
            warn_stale_hosts(read->hosts, now, arguments.flag("unused"));
            stale_hosts = stale_hosts_json(read->hosts, read->markers_read, now);
        }
    }
    if (const auto unused = arguments.value("unused")) {
        auto seconds = keyauth::parse_duration(*unused);
        if (!seconds)
            return report_failure("--unused: " + seconds.error().message);
        filter.unused = keyauth::unused_within(*last_use, now, *seconds);
    }
    if (const auto name = arguments.value("state")) {
        const auto state = keyauth::state_named(*name);
        if (!state)
            return report_failure("--state must be active, suspended, expired or \"not yet valid\"");
        filter.in_state = keyauth::InState{*state, now};
    }
    auto source = client_source(invocation, std::move(fleet_records));
    if (!source)
        return report_failure(source.error());
    const keyauth::LastUseMap* uses = last_use ? &*last_use : nullptr;
    keyauth::Status printed = arguments.flag("json")
                                  ? print_json(**source, filter, uses, stale_hosts)
                                  : print_table(**source, filter, uses);
    if (!printed)
        return report_failure(printed.error());
    return kExitOk;
}

}  // namespace keytool
