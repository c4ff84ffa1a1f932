#include "keyauth/client_listing.hpp"

#include <algorithm>
#include <ctime>
#include <functional>

namespace keyauth {
namespace {

std::int64_t order_key(const ClientCredentials& credentials, ListOrder order) {
    return order == ListOrder::valid_from ? credentials.validity.not_before
                                          : credentials.validity.not_after;
}

// "a before b" in the page's order; ties in time fall back to the id.
bool ranks_before(std::string_view a_id, const ClientCredentials& a, std::string_view b_id,
                  const ClientCredentials& b, const ListingQuery& query) {
    if (query.order != ListOrder::id) {
        const std::int64_t ka = order_key(a, query.order);
        const std::int64_t kb = order_key(b, query.order);
        if (ka != kb)
            return query.descending ? ka > kb : ka < kb;
    }
    return query.descending ? a_id > b_id : a_id < b_id;
}

bool ranks_before(const ClientRecord& a, const ClientRecord& b, const ListingQuery& query) {
    return ranks_before(a.id, a.credentials, b.id, b.credentials, query);
}

// Id order, no search: skip along the cursor, stop after the page.
Result<ClientPage> page_in_id_order(LocalRegistry& registry, const ListingQuery& query) {
    auto total = registry.count();
    if (!total)
        return total.error();
    ClientPage page;
    page.total = *total;
    if (query.offset >= page.total)
        return page;
    const std::size_t wanted = std::min(query.limit, page.total - query.offset);
    std::size_t position = 0;
    auto start_over = [&] {
        position = 0;
        page.records.clear();
    };
    Status s = registry.scan(query.descending, start_over,
                             [&](std::string_view id, const ClientCredentials& c) {
                                 if (position++ < query.offset)
                                     return true;
                                 page.records.push_back(ClientRecord{std::string(id), c});
                                 return page.records.size() < wanted;
                             });
    if (!s)
        return s.error();
    return page;
}

// Anything else: one pass, a heap of the best offset + limit so far.
Result<ClientPage> page_by_scan(LocalRegistry& registry, const ListingQuery& query) {
    const std::size_t keep = query.offset + query.limit;
    auto worse_on_top = [&](const ClientRecord& a, const ClientRecord& b) {
        return ranks_before(a, b, query);
    };
    std::vector<ClientRecord> heap;
    ClientPage page;
    auto start_over = [&] {
        heap.clear();
        page.total = 0;
    };
    Status s =
        registry.scan(false, start_over, [&](std::string_view id, const ClientCredentials& c) {
            if (!query.id_contains.empty() && id.find(query.id_contains) == std::string_view::npos)
                return true;
            if (query.ending && !query.ending->matches(c))
                return true;
            if (query.in_state && !query.in_state->matches(c))
                return true;
            if (query.unused && !query.unused->matches(id))
                return true;
            ++page.total;
            if (heap.size() < keep) {
                heap.push_back(ClientRecord{std::string(id), c});
                std::push_heap(heap.begin(), heap.end(), worse_on_top);
            } else if (ranks_before(id, c, heap.front().id, heap.front().credentials, query)) {
                std::pop_heap(heap.begin(), heap.end(), worse_on_top);
                heap.back().id.assign(id);
                heap.back().credentials = c;
                std::push_heap(heap.begin(), heap.end(), worse_on_top);
            }
            return true;
        });
    if (!s)
        return s.error();
    std::sort_heap(heap.begin(), heap.end(), worse_on_top);
    if (query.offset < heap.size()) {
        page.records.assign(std::make_move_iterator(heap.begin() + query.offset),
                            std::make_move_iterator(heap.end()));
    }
    return page;
}

std::int64_t month_start(int year, int month) {
    std::tm tm{};
    tm.tm_year = year - 1900 + (month - 1) / 12;
    tm.tm_mon = (month - 1) % 12;
    tm.tm_mday = 1;
    return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

ClientState client_state(const ClientCredentials& credentials, std::int64_t now) noexcept {
    if (credentials.suspended)
        return ClientState::suspended;
    if (now < credentials.validity.not_before)
        return ClientState::not_yet_valid;
    if (now > credentials.validity.not_after)
        return ClientState::expired;
    return ClientState::active;
}

std::string_view state_name(ClientState state) noexcept {
    switch (state) {
        case ClientState::active:
            return "active";
        case ClientState::not_yet_valid:
            return "not yet valid";
        case ClientState::expired:
            return "expired";
        case ClientState::suspended:
            return "suspended";
    }
    return "unknown";
}

std::optional<ClientState> state_named(std::string_view name) noexcept {
    for (const auto state : {ClientState::active, ClientState::not_yet_valid, ClientState::expired,
                             ClientState::suspended}) {
        if (name == state_name(state))
            return state;
    }
    return std::nullopt;
}

Result<ClientPage> list_clients_page(LocalRegistry& registry, const ListingQuery& query) {
    if (query.limit < 1 || query.limit > kMaxPageSize) {
        return make_error(Errc::invalid_argument,
                          "a page holds 1 to " + std::to_string(kMaxPageSize) + " clients");
    }
    if (query.offset > kMaxPageSize * kMaxPageSize * 100) {
        return make_error(Errc::invalid_argument, "page offset out of range");
    }
    if (query.order == ListOrder::id && query.id_contains.empty() && !query.ending &&
        !query.in_state && !query.unused)
        return page_in_id_order(registry, query);
    return page_by_scan(registry, query);
}

Result<ExpiryCalendar> expiry_calendar(LocalRegistry& registry, std::int64_t now, int months) {
    if (months < 1 || months > kMaxCalendarMonths) {
        return make_error(
            Errc::invalid_argument,
            "the calendar spans 1 to " + std::to_string(kMaxCalendarMonths) + " months");
    }
    const auto seconds = static_cast<std::time_t>(now);
    std::tm today{};
    gmtime_r(&seconds, &today);
    ExpiryCalendar calendar;
    // bounds[i] is where month i ends (and i + 1 begins).
    std::vector<std::int64_t> bounds;
    for (int i = 0; i < months; ++i) {
        const int index = today.tm_mon + i;  // months since January of this year
        calendar.months.push_back(
            ExpiryMonth{today.tm_year + 1900 + index / 12, index % 12 + 1, 0});
        bounds.push_back(month_start(today.tm_year + 1900, today.tm_mon + i + 2));
    }
    auto start_over = [&] {
        calendar.expired = calendar.later = 0;
        for (ExpiryMonth& month : calendar.months)
            month.count = 0;
    };
    Status s = registry.scan(false, start_over, [&](std::string_view, const ClientCredentials& c) {
        const std::int64_t end = c.validity.not_after;
        if (end < now) {
            ++calendar.expired;
        } else {
            const auto slot = std::upper_bound(bounds.begin(), bounds.end(), end) - bounds.begin();
            if (static_cast<std::size_t>(slot) < bounds.size()) {
                ++calendar.months[static_cast<std::size_t>(slot)].count;
            } else {
                ++calendar.later;
            }
        }
        return true;
    });
    if (!s)
        return s.error();
    return calendar;
}

ClientSnapshot::ClientSnapshot(std::vector<ClientRecord> records) : records_(std::move(records)) {
    std::sort(records_.begin(), records_.end(),
              [](const ClientRecord& a, const ClientRecord& b) { return a.id < b.id; });
}

Status ClientSnapshot::find(std::string_view id, ClientCredentials& out) {
    const auto found = std::lower_bound(
        records_.begin(), records_.end(), id,
        [](const ClientRecord& record, std::string_view wanted) { return record.id < wanted; });
    if (found == records_.end() || found->id != id)
        return make_error(Errc::unknown_client, "no client " + std::string(id));
    out = found->credentials;
    return {};
}

Status ClientSnapshot::find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                                           ClientCredentials& out) {
    for (const ClientRecord& record : records_) {
        if (record.credentials.certificate_fingerprint == fingerprint) {
            id = record.id;
            out = record.credentials;
            return {};
        }
    }
    return make_error(Errc::unknown_client, "no client holds this certificate");
}

Status ClientSnapshot::scan(bool backward, const std::function<void()>&,
                            const ClientVisitor& visit) {
    if (backward) {
        for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
            if (!visit(it->id, it->credentials))
                break;
        }
    } else {
        for (const ClientRecord& record : records_) {
            if (!visit(record.id, record.credentials))
                break;
        }
    }
    return {};
}

}  // namespace keyauth
