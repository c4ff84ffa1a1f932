// Tokens this process has fully verified (issue 19), so that a client
// presenting the same token again, while nothing has been published, costs
// no parse, no BLAKE2b and no index probe. Each entry is keyed by a
// SipHash-2-4-128 MAC of the token's bytes under a key drawn at random in
// this process (and drawn again in a child after fork), never written
// anywhere; it holds the accepted verdict (the client's id, the moment it
// stops being valid, the credential's digest a recheck follows), the
// registry's generation it was verified under and when. A hit needs the same
// MAC (compared in constant time), the same generation (any commit or
// replacement misses), a token naming the same client and a `now` inside
// [verified at, not after]; anything else takes the full path. No secret is
// kept: a memory dump yields MACs under a key that dies with the process.
// docs/SECURITY.md, "The verification cache", has the argument.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "keyauth/authenticator.hpp"

namespace keyauth {

class VerificationCache {
  public:
    static constexpr std::size_t kMacBytes = 16;  // crypto_shorthash_siphashx24_BYTES
    static constexpr std::size_t kKeyBytes = 16;  // crypto_shorthash_siphashx24_KEYBYTES
    using Mac = std::array<std::uint8_t, kMacBytes>;

    // What a lookup computed, for remember() once a miss was verified.
    struct Probe {
        Mac mac{};
        std::uint64_t generation = 0;
        std::int64_t now = 0;
        bool usable = false;  // false: nothing is remembered from this lookup
    };

    VerificationCache() = default;
    ~VerificationCache();  // wipes the key and the table
    VerificationCache(const VerificationCache&) = delete;
    VerificationCache& operator=(const VerificationCache&) = delete;

    // The verdict remembered for this token under this generation, if `now`
    // is still inside it. Fills probe either way. Never allocates.
    bool find(std::string_view token, std::uint64_t generation, std::int64_t now, Probe& probe,
              AuthResult& out);
    // Remembers an accepted verdict reached by the full path after find()
    // missed. The generation is the one read before that path: a commit
    // meanwhile leaves an entry nothing will ever hit.
    void remember(const Probe& probe, const AuthResult& accepted) noexcept;
    // Every entry gone (a reopened registry: its generations start again).
    void forget() noexcept { wipe_entries(); }

  private:
    // Defined in tests/unit alone: sets the key, reads and plants entries.
    friend struct VerificationCacheTesting;

    struct Entry {
        Mac mac{};
        std::uint64_t generation = 0;  // 0: empty (no generation is 0)
        std::int64_t verified_at = 0;
        AuthResult result;
    };
    static constexpr std::size_t kEntries = 4096;  // a power of two, direct-mapped; ~0.6 MB

    static std::size_t index_of(const Mac& mac);
    bool keyed() const;
    void draw_key();
    void wipe_entries() noexcept;
    Mac mac_of(std::string_view token) const;

    std::array<std::uint8_t, kKeyBytes> key_{};
    unsigned keyed_in_ = 0;  // the fork epoch the key was drawn in (0: none yet)
    std::unique_ptr<Entry[]> entries_;
};

using TokenVerifier = AuthResult (*)(ClientStore&, std::string_view, std::int64_t);

// The verdict on a token: the store's verification cache's when it holds one
// for this token under the state published now, else verify()'s (then
// remembered if accepted). A store without a cache always verifies.
AuthResult remembered_verdict(ClientStore& store, std::string_view token, std::int64_t now,
                              TokenVerifier verify);

}  // namespace keyauth
