#include "lookup_index.hpp"

#include <algorithm>

namespace keyauth {

using namespace index_file;

Result<LookupIndex> LookupIndex::open(const std::string& path) {
    auto file = IndexFile::open(path, false);
    if (!file)
        return file.error();
    LookupIndex index;
    index.file_ = std::move(*file);
    return index;
}

// Probes from the key's home until an empty slot: a slot whose tag matches
// names a record, read and decoded (garbage if it cannot be one), then
// matches(id, credentials) says whether it is the key's.
template <class Matches>
LookupIndex::Found LookupIndex::probe(const std::uint64_t* table, Probe probe,
                                      ClientCredentials& out, Matches&& matches,
                                      std::string_view checked_id,
                                      std::uint64_t* found_word) const {
    alignas(8) unsigned char record[kMaxRecordBytes];
    ClientCredentials candidate;  // out is left alone unless found
    std::string_view id;  // into record: valid until the next read
    std::uint64_t slot = probe.home;
    for (std::uint64_t probed = 0; probed < file_.slots(); ++probed) {
        const std::uint64_t word = load_slot(table, slot);
        if (word == 0)
            return Found::no;
        if (!file_.names_heap(word))
            return Found::garbage;
        if (tag_of(word) == probe.tag) {
            if (!file_.read_record(word, record, id, candidate, checked_id))
                return Found::garbage;
            if (matches(id, candidate)) {
                out = candidate;
                if (found_word != nullptr)
                    *found_word = word;
                return Found::yes;
            }
        }
        slot = file_.next_slot(slot);
    }
    return Found::no;
}

LookupIndex::Found LookupIndex::find(unsigned copy, std::string_view id,
                                     ClientCredentials& out) const {
    return find(copy, id, file_.id_probe(id), out);
}

// The id's length and characters are the caller's to have checked: a
// record's id equal to it is not checked again (read_record).
LookupIndex::Found LookupIndex::find(unsigned copy, std::string_view id, Probe from,
                                     ClientCredentials& out) const {
    // A probe of another file (its caller's to prevent) starts past no end.
    if (from.home >= file_.slots())
        from = file_.id_probe(id);
    return probe(
        file_.id_table(copy), from, out,
        [&](std::string_view candidate, const ClientCredentials&) { return candidate == id; }, id);
}

// The slots after the home in its cache line cost no other miss; a key
// further away (rare at 70 % full) gets no record prefetched.
void LookupIndex::prefetch(unsigned copy, Probe from, std::size_t id_length) const {
    constexpr std::uint64_t kSlotsPerLine = 64 / sizeof(std::uint64_t);
    const std::uint64_t* table = file_.id_table(copy);
    const std::uint64_t line_end = (from.home | (kSlotsPerLine - 1)) + 1;
    for (std::uint64_t slot = from.home; slot < line_end && slot < file_.slots(); ++slot) {
        const std::uint64_t word = load_slot(table, slot);
        if (word == 0 || !file_.names_heap(word))
            return;
        if (tag_of(word) == from.tag) {
            const std::uint64_t offset = (record_index_of(word) - 1) * 8;
            const std::uint64_t end = std::min<std::uint64_t>(
                offset + record_bytes(id_length, false), file_.heap_bytes());
            for (std::uint64_t at = offset & ~std::uint64_t{63}; at < end; at += 64)
                __builtin_prefetch(file_.heap() + at);
            return;
        }
    }
}

// One probe and one record: the fingerprint table names the record itself.
// The record a certificate's slot names must be the one its id's slot
// names: the two tables always agree, and a fingerprint slot a change left
// behind would otherwise admit a replaced certificate. Slot words only, no
// second record read.
LookupIndex::Found LookupIndex::find_by_fingerprint(unsigned copy, const Fingerprint& fingerprint,
                                                    std::string& id,
                                                    ClientCredentials& out) const {
    std::uint64_t named = 0;
    const Found found = probe(
        file_.fingerprint_table(copy), file_.fingerprint_probe(fingerprint), out,
        [&](std::string_view owner, const ClientCredentials& c) {
            if (!(c.certificate_fingerprint == fingerprint))
                return false;
            id.assign(owner);
            return true;
        },
        {}, &named);
    if (found != Found::yes)
        return found;
    const std::uint64_t* ids = file_.id_table(copy);
    const Probe by_id = file_.id_probe(id);
    std::uint64_t slot = by_id.home;
    for (std::uint64_t probed = 0; probed < file_.slots(); ++probed) {
        const std::uint64_t word = load_slot(ids, slot);
        if (word == 0)
            break;
        if (record_index_of(word) == record_index_of(named))
            return tag_of(word) == by_id.tag ? Found::yes : Found::garbage;
        slot = file_.next_slot(slot);
    }
    return Found::garbage;
}

}  // namespace keyauth
