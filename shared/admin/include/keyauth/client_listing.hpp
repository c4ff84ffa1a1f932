// Pages of the client list and the expiry calendar, read straight off the
// registry's cursor: a million clients are never loaded at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyauth/client_record.hpp"
#include "keyauth/last_use.hpp"
#include "keyauth/registry.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

// suspended before the validity: a suspended client is refused, whatever it.
enum class ClientState { active, not_yet_valid, expired, suspended };

ClientState client_state(const ClientCredentials& credentials, std::int64_t now) noexcept;
std::string_view state_name(ClientState state) noexcept;
// The state state_name() spells so; nullopt for any other text.
std::optional<ClientState> state_named(std::string_view name) noexcept;

// Clients in one state now (keytool list --state, the console's filter).
struct InState {
    ClientState state = ClientState::active;
    std::int64_t now = 0;

    bool matches(const ClientCredentials& c) const noexcept { return client_state(c, now) == state; }
};

// Credentials that have not ended yet but end by `until`: who needs a new key soon.
struct EndingBy {
    std::int64_t now = 0;
    std::int64_t until = 0;

    bool matches(const ClientCredentials& c) const noexcept {
        return now <= c.validity.not_after && c.validity.not_after <= until;
    }
};

inline EndingBy ending_within(std::int64_t now, std::int64_t seconds) noexcept {
    return EndingBy{now, now + seconds};
}

// Clients with no recorded use since `since` in the hosts' last-use files
// (keytool list --unused): "at least this recent", so a client listed here
// may have been used later than its record says, never earlier.
struct UnusedSince {
    const LastUseMap* last_use = nullptr;  // merged over the files given
    std::int64_t since = 0;

    bool matches(std::string_view id) const noexcept {
        if (last_use == nullptr)
            return false;
        const auto found = last_use->find(id);
        return found == last_use->end() || found->second < since;
    }
};

inline UnusedSince unused_within(const LastUseMap& last_use, std::int64_t now,
                                 std::int64_t seconds) noexcept {
    return UnusedSince{&last_use, now - seconds};
}

enum class ListOrder { id, valid_from, expire };

inline constexpr std::size_t kMaxPageSize = 1000;

struct ListingQuery {
    std::size_t offset = 0;
    std::size_t limit = 50;   // 1..kMaxPageSize
    std::string id_contains;  // empty: every client
    std::optional<EndingBy> ending;
    std::optional<InState> in_state;
    std::optional<UnusedSince> unused;
    ListOrder order = ListOrder::id;
    bool descending = false;
};

struct ClientPage {
    std::vector<ClientRecord> records;
    std::size_t total = 0;  // clients matching the query, across all pages
};

// In id order (either way) without a filter it walks only offset + limit
// records; any other query is one pass keeping the best offset + limit.
Result<ClientPage> list_clients_page(LocalRegistry& registry, const ListingQuery& query);

struct ExpiryMonth {
    int year = 0;
    int month = 0;  // 1..12
    std::size_t count = 0;
};

// How many credentials end in each of the coming months (UTC), this one first.
struct ExpiryCalendar {
    std::size_t expired = 0;  // already ended
    std::vector<ExpiryMonth> months;
    std::size_t later = 0;  // after the last month shown
};

inline constexpr int kMaxCalendarMonths = 120;

Result<ExpiryCalendar> expiry_calendar(LocalRegistry& registry, std::int64_t now, int months);

// Records already read whole (the fleet's, listed from etcd), walked as a
// registry on this host is: pages and the calendar above work on it alike.
class ClientSnapshot final : public LocalRegistry {
  public:
    explicit ClientSnapshot(std::vector<ClientRecord> records);  // any order

    Status find(std::string_view id, ClientCredentials& out) override;
    Status find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                               ClientCredentials& out) override;
    std::uint64_t generation() override { return 0; }  // it never changes
    Status scan(bool backward, const std::function<void()>& start_over,
                const ClientVisitor& visit) override;
    Result<std::size_t> count() override { return records_.size(); }

  private:
    std::vector<ClientRecord> records_;  // in id order
};

}  // namespace keyauth
