#include "lookup_cache.hpp"

#include <cstring>

namespace keyauth {
namespace {

// FNV-1a: ids are short and not attacker-chosen beyond the id alphabet; a
// collision only costs a registry read.
std::size_t slot_of(std::string_view id, std::size_t slots) {
    std::uint32_t hash = 2166136261u;
    for (char c : id)
        hash = (hash ^ static_cast<std::uint8_t>(c)) * 16777619u;
    return hash & (slots - 1);
}

std::size_t slot_of(const Fingerprint& fingerprint, std::size_t slots) {
    std::uint32_t head = 0;
    std::memcpy(&head, fingerprint.bytes.data(), sizeof head);  // already uniform
    return head & (slots - 1);
}

}  // namespace

void LookupCache::allocate() {
    if (!by_id_)
        by_id_.reset(new Slot[kSlots]());
    if (!by_fingerprint_)
        by_fingerprint_.reset(new FingerprintSlot[kSlots]());
}

void LookupCache::forget() noexcept {
    by_id_.reset();
    by_fingerprint_.reset();
}

bool LookupCache::find(std::uint64_t tag, std::string_view id, ClientCredentials& out) const {
    if (!by_id_ || tag == 0)
        return false;
    const Slot& slot = by_id_[slot_of(id, kSlots)];
    if (slot.tag != tag || std::string_view(slot.id, slot.id_length) != id) {
        return false;
    }
    out = slot.credentials;
    return true;
}

void LookupCache::remember(std::uint64_t tag, std::string_view id, const ClientCredentials& c) {
    if (id.size() > kMaxClientIdLength)
        return;
    allocate();
    Slot& slot = by_id_[slot_of(id, kSlots)];
    slot.tag = tag;
    slot.id_length = static_cast<std::uint8_t>(id.size());
    std::memcpy(slot.id, id.data(), id.size());
    slot.credentials = c;
}

bool LookupCache::find(std::uint64_t tag, const Fingerprint& fingerprint, std::string& id,
                       ClientCredentials& out) const {
    if (!by_fingerprint_ || tag == 0)
        return false;
    const FingerprintSlot& entry = by_fingerprint_[slot_of(fingerprint, kSlots)];
    if (entry.slot.tag != tag || !(entry.fingerprint == fingerprint))
        return false;
    id.assign(entry.slot.id, entry.slot.id_length);
    out = entry.slot.credentials;
    return true;
}

void LookupCache::remember(std::uint64_t tag, const Fingerprint& fingerprint, std::string_view id,
                           const ClientCredentials& c) {
    if (id.size() > kMaxClientIdLength)
        return;
    allocate();
    FingerprintSlot& entry = by_fingerprint_[slot_of(fingerprint, kSlots)];
    entry.fingerprint = fingerprint;
    entry.slot.tag = tag;
    entry.slot.id_length = static_cast<std::uint8_t>(id.size());
    std::memcpy(entry.slot.id, id.data(), id.size());
    entry.slot.credentials = c;
}

}  // namespace keyauth
