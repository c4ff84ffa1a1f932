// PMAC with AES-128 (Black and Rogaway, "A Block-Cipher Mode of Operation
// for Parallelizable Message Authentication", Eurocrypt 2002: Gray-code
// offsets; the PMAC of Rogaway's pmac-test vectors, not the 2004 PMAC1) on AES-NI: the verification cache's MAC where the
// CPU has the instructions (verification_cache.hpp). A standard MAC with a
// 128-bit tag, a PRF up to the birthday bound (docs/SECURITY.md, "The
// verification cache"). Unlike CMAC, whose blocks are one chain of
// encryptions (a header value's five blocks: fifty dependent rounds), every
// block but the last is encrypted on its own, so the CPU runs them side by
// side, and only the final encryption waits for them: twenty dependent
// rounds for any length. AES-NI computes each round in hardware, with no
// table a key or a message could steer into the cache lines it touches; the
// only branches and table indexes are on the length.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace keyauth {

class AesPmac {
  public:
    static constexpr std::size_t kKeyBytes = 16;
    static constexpr std::size_t kTagBytes = 16;
    using Key = std::array<std::uint8_t, kKeyBytes>;
    using Tag = std::array<std::uint8_t, kTagBytes>;

    // This build is for x86-64 and this CPU has AES-NI. Debian builds for
    // the baseline x86-64, so it is asked at run time.
    static bool available();

    AesPmac() = default;
    ~AesPmac();  // wipes the round keys and the offsets' table
    AesPmac(const AesPmac&) = delete;
    AesPmac& operator=(const AesPmac&) = delete;

    // The key's AES-128 round keys, then L = AES_K(0), its doublings L(i),
    // its halving L(-1) and the first blocks' offsets. Only where available().
    void set_key(const Key& key);
    // The tag of the bytes under the key set (any length below 2^36 bytes).
    // Only where available(), after set_key().
    Tag tag(const std::uint8_t* bytes, std::size_t length) const;

    // The first blocks' offsets, ready: a header value's (13 blocks at
    // most: verification_cache.cpp asserts it) are loaded, not computed.
    static constexpr std::size_t kOffsets = 16;

  private:
    static constexpr std::size_t kRounds = 10;
    // L(i) for i < 32: block j's offset adds L(ntz(j)), j < 2^32.
    static constexpr std::size_t kLevels = 32;
    alignas(16) std::uint8_t round_keys_[kRounds + 1][16] = {};
    alignas(16) std::uint8_t l_inverse_[16] = {};          // L(-1) = L · x^-1
    alignas(16) std::uint8_t offsets_[kOffsets][16] = {};  // Delta_1 .. Delta_16
    alignas(16) std::uint8_t l_[kLevels][16] = {};         // L(i) = L · x^i
};

}  // namespace keyauth
