#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "client_last_use.hpp"
#include "commands.hpp"
#include "keyauth/client_listing.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/duration.hpp"
#include "keyauth/lmdb_registry.hpp"

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

// last_use: the hosts' records merged, or null when no file was given.
void print_table(const std::vector<keyauth::ClientRecord>& records,
                 const keyauth::LastUseMap* last_use) {
    std::size_t id_width = kMinIdWidth;
    for (const auto& record : records)
        id_width = std::max(id_width, record.id.size());
    const bool with_last_use = last_use != nullptr;
    std::string out = rule("┌", "┬", "┐", id_width, with_last_use);
    const std::string heading = "LAST USED";
    out += row("ROWNUM", "ID", "VALID FROM", "EXPIRE", with_last_use ? &heading : nullptr,
               id_width);
    out += rule("├", "┼", "┤", id_width, with_last_use);
    std::size_t rownum = 0;
    for (const auto& record : records) {
        char number[16];
        std::snprintf(number, sizeof number, "%6zu", ++rownum);
        const auto& validity = record.credentials.validity;
        std::string used;
        if (with_last_use)
            used = format_last_use(*last_use, record.id);
        out += row(number, record.id, format_time(validity.not_before),
                   format_time(validity.not_after), with_last_use ? &used : nullptr, id_width);
    }
    out += rule("└", "┴", "┘", id_width, with_last_use);
    std::fputs(out.c_str(), stdout);
}

void print_json(const std::vector<keyauth::ClientRecord>& records,
                const keyauth::LastUseMap* last_use) {
    std::string out = "[";
    for (std::size_t i = 0; i < records.size(); ++i) {
        out += i == 0 ? "\n" : ",\n";
        nlohmann::ordered_json client;
        client["id"] = records[i].id;
        add_credential_fields(client, records[i].credentials);
        if (last_use)
            add_last_use_field(client, *last_use, records[i].id);
        out += "  " + json_text(client);
    }
    out += records.empty() ? "]\n" : "\n]\n";
    std::fputs(out.c_str(), stdout);
}

keyauth::Result<std::vector<keyauth::ClientRecord>> list_registry(const std::string& dir) {
    auto registry = keyauth::open_registry_to_read(dir);
    if (!registry)
        return registry.error();
    return (*registry)->list();
}

}  // namespace

int run_list(const Invocation& invocation, const Arguments& arguments) {
    if (!arguments.operands.empty())
        return report_failure("list takes no operands");
    auto records = invocation.etcd.enabled() ? list_fleet(invocation.etcd)
                                             : list_registry(invocation.registry.dir);
    if (!records)
        return report_failure(records.error());
    auto& all = *records;
    const auto keep_only = [&all](const auto& matches) {
        all.erase(std::remove_if(all.begin(), all.end(),
                                 [&](const auto& r) { return !matches(r.credentials); }),
                  all.end());
    };
    const std::int64_t now = keyauth::unix_now();
    if (const auto expiring = arguments.value("expiring")) {
        auto seconds = keyauth::parse_duration(*expiring);
        if (!seconds)
            return report_failure("--expiring: " + seconds.error().message);
        const keyauth::EndingBy ending = keyauth::ending_within(now, *seconds);
        keep_only([&](const auto& c) { return ending.matches(c); });
    }
    // With --etcd, the hosts' published last use too (list --json carries it).
    std::optional<keyauth::LastUseMap> last_use;
    const bool wants_last_use = arguments.flag("last-use") || arguments.flag("unused");
    if (wants_last_use || (invocation.etcd.enabled() && arguments.flag("json"))) {
        auto read = read_client_last_use(invocation, arguments.values("last-use"),
                                         arguments.flag("unused") ? LastUseNeed::to_filter
                                                                  : LastUseNeed::to_show);
        if (!read)
            return report_failure(read.error());
        if (!read->any_source && arguments.flag("unused")) {
            return report_failure("--unused needs the hosts' last use: no host of the fleet "
                                  "publishes it (keyauth-sync --publish-last-use FILE), and no "
                                  "--last-use FILE was given");
        }
        if (read->any_source)
            last_use = std::move(read->merged);
    }
    if (const auto unused = arguments.value("unused")) {
        auto seconds = keyauth::parse_duration(*unused);
        if (!seconds)
            return report_failure("--unused: " + seconds.error().message);
        const keyauth::UnusedSince since = keyauth::unused_within(*last_use, now, *seconds);
        all.erase(std::remove_if(all.begin(), all.end(),
                                 [&](const auto& r) { return !since.matches(r.id); }),
                  all.end());
    }
    if (const auto name = arguments.value("state")) {
        const auto state = keyauth::state_named(*name);
        if (!state)
            return report_failure("--state must be active, suspended, expired or \"not yet valid\"");
        const keyauth::InState in_state{*state, now};
        keep_only([&](const auto& c) { return in_state.matches(c); });
    }
    if (arguments.flag("json")) {
        print_json(*records, last_use ? &*last_use : nullptr);
    } else {
        print_table(*records, last_use ? &*last_use : nullptr);
    }
    return kExitOk;
}

}  // namespace keytool
