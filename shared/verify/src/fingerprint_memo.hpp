// The fingerprints of the certificates this process saw last, by object
// (issue 19). A kept-alive TLS connection presents the same X509 object on
// every request; its SHA-256 (the certificate encoded again and hashed:
// ~21 000 instructions) need not be computed each time. Only the hash is
// remembered, never a verdict: every request still looks the fingerprint up
// in the registry and judges the record, so a deletion, a suspension or an
// expiry refuses the very next request as before.
//
// Each entry holds a reference to its certificate, so no other certificate
// can be given its address while it is here: the same address is the same
// object, whose encoding (and so fingerprint) a server never changes. A
// replaced entry's reference is let go. One per reader, used by one thread,
// as the verification cache is.
#pragma once

#include <array>
#include <cstddef>

#include <openssl/x509.h>

#include "keyauth/client_record.hpp"

namespace keyauth {

class FingerprintMemo {
  public:
    FingerprintMemo() = default;
    ~FingerprintMemo();  // lets every certificate go
    FingerprintMemo(const FingerprintMemo&) = delete;
    FingerprintMemo& operator=(const FingerprintMemo&) = delete;

    // fingerprint_of(certificate, out), from the memo when this object's was
    // computed before. False (out untouched) when it cannot be had.
    bool fingerprint_of(const X509* certificate, Fingerprint& out) noexcept;

  private:
    friend struct FingerprintMemoTesting;  // tests/unit: counts the hashes made

    struct Entry {
        X509* certificate = nullptr;  // a reference held, or nullptr
        Fingerprint fingerprint;
    };
    // Direct-mapped by address: a worker's live connections at a time, most
    // of them kept alive, fit; a collision only costs a hash.
    static constexpr std::size_t kEntries = 256;

    static std::size_t index_of(const X509* certificate) noexcept;

    std::array<Entry, kEntries> entries_{};
    std::size_t hashes_made_ = 0;  // for the tests
};

}  // namespace keyauth
