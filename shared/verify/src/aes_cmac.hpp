// AES-128-CMAC (NIST SP 800-38B, RFC 4493) on AES-NI: the verification
// cache's MAC where the CPU has the instructions (verification_cache.hpp),
// a third of SipHash-2-4-128's instructions on a header value (180 of 521).
// A standard MAC with a 128-bit tag, a PRF up to the birthday bound
// (docs/SECURITY.md, "The verification cache"). AES-NI computes each round
// in hardware, with no table a key or a message could steer into the cache
// lines it touches; the only branches are on the length.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace keyauth {

class AesCmac {
  public:
    static constexpr std::size_t kKeyBytes = 16;
    static constexpr std::size_t kTagBytes = 16;
    using Key = std::array<std::uint8_t, kKeyBytes>;
    using Tag = std::array<std::uint8_t, kTagBytes>;

    // This build is for x86-64 and this CPU has AES-NI. Debian builds for
    // the baseline x86-64, so it is asked at run time.
    static bool available();

    AesCmac() = default;
    ~AesCmac();  // wipes the round keys and the subkeys
    AesCmac(const AesCmac&) = delete;
    AesCmac& operator=(const AesCmac&) = delete;

    // The key's AES-128 round keys, then the subkeys K1 and K2 (RFC 4493,
    // 2.3). Only where available().
    void set_key(const Key& key);
    // The tag of the bytes under the key set (RFC 4493, 2.4). Only where
    // available(), after set_key().
    Tag tag(const std::uint8_t* bytes, std::size_t length) const;

  private:
    static constexpr std::size_t kRounds = 10;
    alignas(16) std::uint8_t round_keys_[kRounds + 1][16] = {};
    alignas(16) std::uint8_t k1_[16] = {};
    alignas(16) std::uint8_t k2_[16] = {};
};

}  // namespace keyauth
