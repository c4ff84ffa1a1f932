#include "index_journal.hpp"

#include <algorithm>
#include <cstring>

#include "keyauth/client_id.hpp"

namespace keyauth {
namespace {

void put_u64(std::string& out, std::uint64_t value) {
    char bytes[8];
    std::memcpy(bytes, &value, sizeof bytes);
    out.append(bytes, sizeof bytes);
}

bool take_u64(std::string_view& in, std::uint64_t& value) {
    if (in.size() < 8)
        return false;
    std::memcpy(&value, in.data(), 8);
    in.remove_prefix(8);
    return true;
}

constexpr std::uint64_t kEverything = ~std::uint64_t{0};

void encode_entry(std::string& out, const std::optional<IndexJournalEntry>& entry) {
    if (!entry) {
        put_u64(out, 0);
        put_u64(out, kEverything);
        return;
    }
    put_u64(out, entry->parent_txnid);
    if (entry->everything || entry->ids.size() > IndexJournal::kMaxIds) {
        put_u64(out, kEverything);
        return;
    }
    put_u64(out, entry->ids.size());
    for (const std::string& id : entry->ids) {
        out.push_back(static_cast<char>(id.size()));
        out.append(id);
    }
}

bool decode_entry(std::string_view& in, std::optional<IndexJournalEntry>& entry) {
    IndexJournalEntry decoded;
    std::uint64_t count = 0;
    if (!take_u64(in, decoded.parent_txnid) || !take_u64(in, count))
        return false;
    if (count == kEverything) {
        decoded.everything = true;
        if (decoded.parent_txnid != 0)
            entry = std::move(decoded);
        return true;
    }
    if (count > IndexJournal::kMaxIds)
        return false;
    for (std::uint64_t i = 0; i < count; ++i) {
        if (in.empty())
            return false;
        const auto length = static_cast<unsigned char>(in.front());
        in.remove_prefix(1);
        if (in.size() < length || !is_valid_client_id(in.substr(0, length)))
            return false;
        decoded.ids.emplace_back(in.substr(0, length));
        in.remove_prefix(length);
    }
    entry = std::move(decoded);
    return true;
}

// The entry describes exactly the commit that made `txnid`.
bool made(const std::optional<IndexJournalEntry>& entry, std::uint64_t txnid) {
    return entry && !entry->everything && entry->parent_txnid + 1 == txnid;
}

}  // namespace

std::optional<std::vector<std::string>> IndexJournal::changes(std::uint64_t from,
                                                              std::uint64_t to) const {
    if (from == to && from != 0)
        return std::vector<std::string>{};
    if (!made(latest, to))
        return std::nullopt;
    if (from == latest->parent_txnid)
        return latest->ids;
    if (from + 2 == to && made(previous, to - 1)) {
        std::vector<std::string> ids = previous->ids;
        ids.insert(ids.end(), latest->ids.begin(), latest->ids.end());
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        return ids;
    }
    return std::nullopt;
}

IndexJournal IndexJournal::then(IndexJournalEntry next) const {
    IndexJournal journal;
    journal.previous = latest;
    if (next.ids.size() > kMaxIds) {
        next.everything = true;
        next.ids.clear();
    }
    journal.latest = std::move(next);
    return journal;
}

std::string IndexJournal::encode() const {
    std::string out;
    encode_entry(out, previous);
    encode_entry(out, latest);
    return out;
}

IndexJournal IndexJournal::decode(std::string_view bytes) {
    IndexJournal journal;
    if (!decode_entry(bytes, journal.previous) || !decode_entry(bytes, journal.latest) ||
        !bytes.empty()) {
        return IndexJournal{};
    }
    return journal;
}

}  // namespace keyauth
