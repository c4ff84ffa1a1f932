// Which clients the last two LMDB commits changed, stored in LMDB beside
// them: how the writer brings the copy of lookup.idx that readers are not
// using up to date by changing only those clients, whichever process made
// the commits. An entry that does not chain (a commit without one, a
// rebuild, too many ids) makes the writer refill the copy from LMDB.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyauth {

struct IndexJournalEntry {
    std::uint64_t parent_txnid = 0;  // the commit made transaction parent + 1
    bool everything = false;         // a rebuild: no list
    std::vector<std::string> ids;
};

struct IndexJournal {
    static constexpr std::string_view kMetaKey = "index.journal";
    static constexpr std::size_t kMaxIds = 4096;  // beyond: everything

    std::optional<IndexJournalEntry> previous;
    std::optional<IndexJournalEntry> latest;

    // The ids to bring a copy holding transaction `from` to `to`, or
    // nullopt when the journal cannot say (then: refill).
    std::optional<std::vector<std::string>> changes(std::uint64_t from, std::uint64_t to) const;
    // This journal after one more commit.
    IndexJournal then(IndexJournalEntry next) const;

    std::string encode() const;
    // Anything unexpected decodes as an empty journal: a refill, never a
    // wrong copy.
    static IndexJournal decode(std::string_view bytes);
};

}  // namespace keyauth
