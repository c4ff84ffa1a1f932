#include "fingerprint_memo.hpp"

#include <cstdint>

#include "keyauth/x509_identity.hpp"

namespace keyauth {

FingerprintMemo::~FingerprintMemo() {
    for (Entry& entry : entries_)
        X509_free(entry.certificate);  // nullptr: nothing
}

std::size_t FingerprintMemo::index_of(const X509* certificate) noexcept {
    // Heap addresses share their low bits: a multiplicative hash spreads them.
    const auto address = reinterpret_cast<std::uintptr_t>(certificate);
    return static_cast<std::size_t>((address * 0x9E3779B97F4A7C15ull) >> 56) % kEntries;
}

bool FingerprintMemo::fingerprint_of(const X509* certificate, Fingerprint& out) noexcept {
    if (certificate == nullptr)
        return false;
    Entry& entry = entries_[index_of(certificate)];
    if (entry.certificate == certificate) {
        out = entry.fingerprint;
        return true;
    }
    Fingerprint fingerprint;
    ++hashes_made_;
    if (!keyauth::fingerprint_of(certificate, fingerprint))
        return false;
    // The reference keeps the address this certificate's for as long as the
    // entry names it. X509_up_ref changes only the count, never the encoding.
    auto* held = const_cast<X509*>(certificate);
    if (X509_up_ref(held) == 1) {
        X509_free(entry.certificate);
        entry.certificate = held;
        entry.fingerprint = fingerprint;
    }
    out = fingerprint;
    return true;
}

}  // namespace keyauth
