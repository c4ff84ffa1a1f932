#include "lookup_index.hpp"

#include <cstring>

namespace keyauth {

using namespace index_file;

namespace {

// Judges a slot's copy: empty, a well-formed full slot, or garbage.
LookupIndex::Found judge(const unsigned char* copy) {
    if (copy[kStateAt] == 0)
        return LookupIndex::Found::no;
    if (copy[kStateAt] != kFull || copy[kLengthAt] == 0 || copy[kLengthAt] > kMaxClientIdLength)
        return LookupIndex::Found::garbage;
    return LookupIndex::Found::yes;
}

// Reads a slot word by word, as far as needed: the first word (state and id
// length), judged; if the slot is full, on to the end of its id. Most probes
// end here; read_to says how many bytes of the slot were read.
inline LookupIndex::Found read_to_id(unsigned char* slot, const unsigned char* at,
                                     std::size_t& read_to) {
    load_words(slot, at, 8);
    const LookupIndex::Found state = judge(slot);
    if (state != LookupIndex::Found::yes)
        return state;
    read_to = round_up(kIdAt + slot[kLengthAt], 8);
    load_words(slot + 8, at + 8, read_to - 8);
    return state;
}

}  // namespace

Result<LookupIndex> LookupIndex::open(const std::string& path) {
    auto file = IndexFile::open(path, false);
    if (!file)
        return file.error();
    LookupIndex index;
    index.file_ = std::move(*file);
    return index;
}

std::uint64_t LookupIndex::version(unsigned copy) const {
    return file_.copy_header(copy)->version.load(std::memory_order_relaxed);
}

bool LookupIndex::retired() const {
    return file_.header()->retired.load(std::memory_order_relaxed) != 0;
}

LookupIndex::Found LookupIndex::find(unsigned copy, std::string_view id,
                                     ClientCredentials& out) const {
    if (id.empty() || id.size() > kMaxClientIdLength)
        return Found::no;
    const std::uint64_t home = file_.id_home(id);
    alignas(8) unsigned char slot[kIdSlotBytes];
    for (std::uint64_t probe = 0; probe < file_.slots(); ++probe) {
        const unsigned char* at = file_.id_slot(copy, (home + probe) & file_.mask());
        std::size_t read_to = 0;
        if (const Found state = read_to_id(slot, at, read_to); state != Found::yes)
            return state;
        if (slot_id(slot) != id)
            continue;
        // Only the matching slot's record is read.
        load_words(slot + read_to, at + read_to, sizeof slot - read_to);
        const std::string_view record(reinterpret_cast<const char*>(slot + kValueAt),
                                      kEncodedCredentialsSize);
        return decode_credentials(record, out) ? Found::yes : Found::garbage;
    }
    return Found::no;
}

LookupIndex::Found LookupIndex::find_by_fingerprint(unsigned copy, const Fingerprint& fingerprint,
                                                    std::string& id,
                                                    ClientCredentials& out) const {
    const std::uint64_t home = file_.fingerprint_home(fingerprint);
    alignas(8) unsigned char slot[kFingerprintSlotBytes];
    for (std::uint64_t probe = 0; probe < file_.slots(); ++probe) {
        const unsigned char* at = file_.fingerprint_slot(copy, (home + probe) & file_.mask());
        std::size_t read_to = 0;
        if (const Found state = read_to_id(slot, at, read_to); state != Found::yes)
            return state;
        load_words(slot + read_to, at + read_to, sizeof slot - read_to);
        if (std::memcmp(slot + kValueAt, fingerprint.bytes.data(), kFingerprintBytes) != 0)
            continue;
        const std::string_view owner = slot_id(slot);
        if (!is_valid_client_id(owner))
            return Found::garbage;
        if (find(copy, owner, out) != Found::yes)
            return Found::garbage;  // the two tables always agree
        if (!(out.certificate_fingerprint == fingerprint))
            return Found::garbage;
        id.assign(owner);
        return Found::yes;
    }
    return Found::no;
}

bool LookupIndex::for_each(
    unsigned copy,
    const std::function<void(std::string_view, const ClientCredentials&)>& visit) const {
    alignas(8) unsigned char slot[kIdSlotBytes];
    for (std::uint64_t i = 0; i < file_.slots(); ++i) {
        load_words(slot, file_.id_slot(copy, i), sizeof slot);
        const Found state = judge(slot);
        if (state == Found::no)
            continue;
        ClientCredentials credentials;
        const std::string_view record(reinterpret_cast<const char*>(slot + kValueAt),
                                      kEncodedCredentialsSize);
        if (state == Found::garbage || !decode_credentials(record, credentials))
            return false;
        visit(slot_id(slot), credentials);
    }
    return true;
}

}  // namespace keyauth
