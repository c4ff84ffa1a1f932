#include "keyauth/refusal_log.hpp"

#include <array>
#include <cstdio>
#include <cstring>
#include <vector>

namespace keyauth {
namespace {

// Set-associative: a key lives in one set of kWays slots, found by its hash,
// so a note costs a hash and at most kWays comparisons.
constexpr std::size_t kWays = 8;

struct Entry {
    std::int64_t since = 0;  // when this key's last line was written
    std::uint32_t unlogged = 0;
    std::uint8_t verdict = 0;
    std::uint8_t id_length = 0;
    bool used = false;
    char id[kMaxClientIdLength] = {};

    bool holds(std::string_view client_id, std::uint8_t of) const noexcept {
        return used && verdict == of && id_length == client_id.size() &&
               (client_id.empty() || std::memcmp(id, client_id.data(), client_id.size()) == 0);
    }
};

std::size_t round_up_to_sets(std::size_t entries) {
    std::size_t sets = 1;
    while (sets * kWays < entries)
        sets *= 2;
    return sets;
}

// FNV-1a over the id and the verdict, salted per process so that ids
// cannot be chosen to share one set.
std::uint64_t key_hash(std::string_view client_id, std::uint8_t verdict,
                       std::uint64_t salt) noexcept {
    std::uint64_t hash = 14695981039346656037ULL ^ salt;
    for (const char c : client_id) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
    }
    hash ^= verdict;
    hash *= 1099511628211ULL;
    return hash ^ (hash >> 29);
}

}  // namespace

struct RefusalLog::State {
    struct Table {
        std::vector<Entry> slots;
        std::size_t set_mask = 0;

        explicit Table(std::size_t entries) : slots(round_up_to_sets(entries) * kWays) {
            set_mask = slots.size() / kWays - 1;
        }
    };

    Table clients;
    Table strangers;
    std::array<Entry, kVerdicts> shared{};
    std::int64_t window;
    std::uint64_t salt;
    std::size_t pending = 0;  // entries with refusals not logged
    std::size_t overdue_cursor = 0;  // where take_overdue() goes on

    std::size_t entries() const { return shared.size() + clients.slots.size() + strangers.slots.size(); }
    // shared, then clients, then strangers, as one sequence.
    Entry& entry_at(std::size_t i) {
        if (i < shared.size())
            return shared[i];
        i -= shared.size();
        if (i < clients.slots.size())
            return clients.slots[i];
        return strangers.slots[i - clients.slots.size()];
    }

    State(std::size_t client_entries, std::size_t stranger_entries, std::int64_t seconds)
        : clients(client_entries),
          strangers(stranger_entries),
          window(seconds < 1 ? 1 : seconds),
          salt(reinterpret_cast<std::uintptr_t>(this) * 0x9E3779B97F4A7C15ULL) {}

    // A key seen before: quiet inside its minute, logged with the count after.
    RefusalNote again(Entry& entry, std::int64_t now) noexcept {
        RefusalNote note;
        if (now < entry.since)  // the clock went back: the minute starts again
            entry.since = now;
        if (now - entry.since < window) {
            if (entry.unlogged == 0)
                ++pending;
            if (entry.unlogged != UINT32_MAX)
                ++entry.unlogged;
            return note;
        }
        note.log = true;
        note.unlogged = entry.unlogged;
        note.seconds = now - entry.since;
        restart(entry, now);
        return note;
    }

    void restart(Entry& entry, std::int64_t now) noexcept {
        if (entry.unlogged != 0)
            --pending;
        entry.since = now;
        entry.unlogged = 0;
    }

    // A key replaced with its minute over and refusals not logged loses
    // them: a server with a tick has taken them by then.
    RefusalNote first(Entry& entry, std::string_view client_id, std::uint8_t verdict,
                      std::int64_t now) noexcept {
        restart(entry, now);
        entry.used = true;
        entry.verdict = verdict;
        entry.id_length = static_cast<std::uint8_t>(client_id.size());
        if (!client_id.empty())  // an empty view's data() may be null: no memcpy from it
            std::memcpy(entry.id, client_id.data(), client_id.size());
        RefusalNote note;
        note.log = true;
        return note;
    }

    RefusalNote shared_note(std::uint8_t verdict, std::int64_t now) noexcept {
        Entry& entry = shared[verdict];
        RefusalNote note;
        if (!entry.used) {
            note = first(entry, {}, verdict, now);
        } else {
            note = again(entry, now);
        }
        note.shared = true;
        return note;
    }

    RefusalNote note(Table& table, std::string_view client_id, std::uint8_t verdict,
                     std::int64_t now) noexcept {
        const std::size_t set = key_hash(client_id, verdict, salt) & table.set_mask;
        Entry* const ways = &table.slots[set * kWays];
        Entry* replaceable = nullptr;
        for (std::size_t way = 0; way < kWays; ++way) {
            Entry& entry = ways[way];
            if (entry.holds(client_id, verdict))
                return again(entry, now);
            if (!entry.used) {
                if (replaceable == nullptr || replaceable->used)
                    replaceable = &entry;
            } else if (now - entry.since >= window || now < entry.since) {
                // its minute is over: replaceable, the oldest first
                if (replaceable == nullptr ||
                    (replaceable->used && entry.since < replaceable->since))
                    replaceable = &entry;
            }
        }
        // Every slot of the set is inside its minute: counted with the reason's others.
        if (replaceable == nullptr)
            return shared_note(verdict, now);
        return first(*replaceable, client_id, verdict, now);
    }
};

std::size_t RefusalLog::take_overdue(std::int64_t now, RefusalSummary* out,
                                     std::size_t capacity) noexcept {
    State& state = *state_;
    std::size_t taken = 0;
    const auto take = [&](Entry& entry) {
        if (taken == capacity || entry.unlogged == 0 || now - entry.since < state.window)
            return;
        RefusalSummary& summary = out[taken++];
        summary = RefusalSummary{};
        std::memcpy(summary.client_id, entry.id, entry.id_length);
        summary.verdict = static_cast<Verdict>(entry.verdict);
        summary.unlogged = entry.unlogged;
        summary.seconds = now - entry.since;
        state.restart(entry, now);
    };
    if (state.pending == 0)
        return 0;
    // From where the last call stopped: a caller draining many overdue
    // entries in batches looks at each slot once, not once per batch.
    const std::size_t entries = state.entries();
    for (std::size_t looked = 0; looked < entries && taken < capacity; ++looked) {
        take(state.entry_at(state.overdue_cursor));
        state.overdue_cursor = (state.overdue_cursor + 1) % entries;
    }
    return taken;
}

bool RefusalLog::pending() const noexcept {
    return state_->pending != 0;
}

bool refusal_names_registered_client(Verdict verdict) noexcept {
    // Not mismatch: anyone may name a registered id with a wrong secret, and
    // whether that gets a line must not tell them it is registered.
    switch (verdict) {
        case Verdict::not_yet_valid:
        case Verdict::expired:
        case Verdict::different_clients:
        case Verdict::client_id_refused:
            return true;
        default:
            return false;
    }
}

RefusalLog::RefusalLog(std::size_t clients, std::size_t strangers, std::int64_t window)
    : state_(std::make_unique<State>(clients, strangers, window)) {}

RefusalLog::~RefusalLog() = default;

RefusalNote RefusalLog::note(std::string_view client_id, Verdict verdict,
                             std::int64_t now) noexcept {
    // A wrong secret is keyed as an unknown id is (verdict_as_counted): the
    // caller's line still says which.
    verdict = verdict_as_counted(verdict);
    const auto index = static_cast<std::size_t>(verdict);
    const auto of = static_cast<std::uint8_t>(index < kVerdicts ? index : 0);
    RefusalNote note;
    if (client_id.empty() || client_id.size() > kMaxClientIdLength) {
        note = state_->shared_note(of, now);
    } else {
        State::Table& table =
            refusal_names_registered_client(verdict) ? state_->clients : state_->strangers;
        note = state_->note(table, client_id, of, now);
    }
    if (note.log && note.unlogged > 0) {
        std::snprintf(note.summary, sizeof note.summary,
                      note.shared ? "and %u more refusals for this reason, of any client, in the "
                                    "last %lld s"
                                  : "and %u more refusals of this client for this reason in the "
                                    "last %lld s",
                      note.unlogged, static_cast<long long>(note.seconds));
    }
    return note;
}

std::string printable_for_log(std::string_view text, std::size_t limit) {
    std::string out;
    const std::string_view shown = text.substr(0, limit);
    out.reserve(shown.size() + 3);
    for (const char c : shown) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7f && c != '\\') {
            out += c;
        } else {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
        }
    }
    if (shown.size() < text.size())
        out += "...";
    return out;
}

}  // namespace keyauth
