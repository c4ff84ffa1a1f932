// Registry reads remembered per process, each tagged with the published
// state it was read in: the commit sequence's value, told apart per reopened
// registry (RegistryReader's tag_of, never 0). An entry serves only a lookup
// made while that same state is published, so a commit anywhere retires
// every entry at once: nothing can go stale.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "keyauth/client_id.hpp"
#include "keyauth/client_record.hpp"

namespace keyauth {

class LookupCache {
  public:
    bool find(std::uint64_t tag, std::string_view id, ClientCredentials& out) const;
    void remember(std::uint64_t tag, std::string_view id, const ClientCredentials& c);

    bool find(std::uint64_t tag, const Fingerprint& fingerprint, std::string& id,
              ClientCredentials& out) const;
    void remember(std::uint64_t tag, const Fingerprint& fingerprint, std::string_view id,
                  const ClientCredentials& c);
    // Every entry gone (a reopened registry: its tags start again).
    void forget() noexcept;

  private:
    static constexpr std::size_t kSlots = 4096;  // a power of two; ~1.6 MB in all

    struct Slot {
        std::uint64_t tag = 0;  // 0: empty (no tag is 0)
        std::uint8_t id_length = 0;
        char id[kMaxClientIdLength];
        ClientCredentials credentials;
    };
    struct FingerprintSlot {
        Slot slot;
        Fingerprint fingerprint;
    };

    void allocate();
    std::unique_ptr<Slot[]> by_id_;
    std::unique_ptr<FingerprintSlot[]> by_fingerprint_;
};

}  // namespace keyauth
