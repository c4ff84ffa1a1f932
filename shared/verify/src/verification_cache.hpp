// Tokens this process has fully verified (issue 19), so that a client
// presenting the same token again, while nothing has been published, costs
// no parse, no BLAKE2b and no index probe. Each entry is keyed by a 128-bit
// MAC of the token's bytes, PMAC with AES-128 where the CPU has AES-NI
// (its blocks enciphered side by side, aes_pmac.hpp), else SipHash-2-4-128, under a key
// drawn at random in this process (and drawn again in a child after fork),
// never written anywhere; it holds the accepted verdict (the client's id, the moment it
// stops being valid, the credential's digest a recheck follows), the
// registry's generation it was verified under and when. A hit needs the same
// MAC (compared in constant time), the same generation (any commit or
// replacement misses), a token naming the same client and a `now` inside
// [verified at, not after]; anything else takes the full path. An HTTP
// request's entry is keyed by the whole Authorization value ("Bearer <token>"),
// so a hit needs no header parse either; such an entry is told apart from a
// bare token's (an MQTT username could be any bytes). No secret is
// kept: a memory dump yields MACs under a key that dies with the process.
// docs/SECURITY.md, "The verification cache", has the argument.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "aes_pmac.hpp"
#include "keyauth/authenticator.hpp"
#include "keyauth/token.hpp"

namespace keyauth {

class VerificationCache {
  public:
    static constexpr std::size_t kMacBytes = 16;  // crypto_shorthash_siphashx24_BYTES
    static constexpr std::size_t kKeyBytes = 16;  // crypto_shorthash_siphashx24_KEYBYTES
    using Mac = std::array<std::uint8_t, kMacBytes>;

    // What the cached bytes are: a token, or an Authorization header's value.
    enum class Presented : std::uint8_t { token, bearer_header };
    // The longest header value an entry is made for: a token and its scheme,
    // with room for spaces.
    static constexpr std::size_t kMaxPresentedLength = kMaxTokenLength + 64;

    // What a lookup computed, for remember() once a miss was verified.
    struct Probe {
        Mac mac{};
        std::uint64_t generation = 0;
        std::int64_t now = 0;
        bool usable = false;  // false: nothing is remembered from this lookup
        Presented presented = Presented::token;
    };

    VerificationCache();   // picks the MAC this CPU computes fastest
    ~VerificationCache();  // wipes the key and the table
    VerificationCache(const VerificationCache&) = delete;
    VerificationCache& operator=(const VerificationCache&) = delete;

    // The verdict remembered for these bytes (a token, or a header value
    // holding one) under the generation read_generation() reads, if `now`
    // is still inside it. Fills probe either way. Never allocates. The
    // entry's verdict, valid until the next remember() or forget(), or
    // nullptr. The generation is read after the MAC is computed and before
    // anything of an entry is compared: the MAC's last AES rounds wait on
    // its parallel ones, and the generation's loads (the counter's and the
    // index's pages, which the request has not touched yet) run beside it
    // instead of before it. Read on every find whose bytes a MAC is made
    // of: a commit still misses on the very next request.
    // The entry's lines are asked for as soon as the MAC names it, so that
    // they arrive while the generation is read: a thousand clients in turn
    // find their entries evicted by the kernel's work in between.
    template <class ReadGeneration>
    const AuthResult* find(std::string_view text, Presented presented,
                           ReadGeneration&& read_generation, std::int64_t now, Probe& probe) {
        if (!mac_into(text, presented, now, probe))
            return nullptr;
        prefetch_entry(probe.mac);
        return entry_for(text, read_generation(), probe);
    }
    // Remembers an accepted verdict reached by the full path after find()
    // missed; token_at: where the token starts in the bytes looked up. The
    // generation is the one read before that path: a commit meanwhile leaves
    // an entry nothing will ever hit.
    void remember(const Probe& probe, const AuthResult& accepted,
                  std::size_t token_at = 0) noexcept;
    // Every entry gone (a reopened registry: its generations start again).
    void forget() noexcept { wipe_entries(); }

  private:
    // Defined in tests/unit alone: sets the key, reads and plants entries.
    friend struct VerificationCacheTesting;

    // 32-byte aligned: its 160 bytes always span three cache lines (from
    // malloc's 16-byte alignment every other entry spanned four).
    struct alignas(32) Entry {
        Mac mac{};
        std::uint64_t generation = 0;  // 0: empty (no generation is 0)
        std::int64_t verified_at = 0;
        Presented presented = Presented::token;
        std::uint8_t token_at = 0;  // where the token starts in the bytes
        AuthResult result;
    };
    // A power of two, direct-mapped; 2.5 MB (4 MB in huge pages). A fleet of devices in turn
    // keeps its entries only in a table much larger than itself: a thousand
    // in 4 096 entries lost one in five to another token's (a full check
    // each time), in 16 384 one in sixteen.
    static constexpr std::size_t kEntries = 16384;

    // find()'s halves. mac_into: probe.mac and probe.now, or false (bytes
    // never accepted, no key); probe.usable false either way. entry_for: the
    // generation checked and put in the probe (usable from then on), then
    // the entry compared.
    bool mac_into(std::string_view text, Presented presented, std::int64_t now, Probe& probe);
    const AuthResult* entry_for(std::string_view text, std::uint64_t generation, Probe& probe);

    static constexpr std::size_t kCacheLine = 64;
    static constexpr std::size_t kEntryLines = (sizeof(Entry) + kCacheLine - 1) / kCacheLine;
    static_assert(kCacheLine % alignof(Entry) == 0 &&
                      sizeof(Entry) % alignof(Entry) == 0 &&
                      kCacheLine - alignof(Entry) + sizeof(Entry) <= kEntryLines * kCacheLine,
                  "an entry spans no more lines than its size needs, wherever it starts");

    static std::size_t index_of(const Mac& mac) {
        std::uint32_t head = 0;
        std::memcpy(&head, mac.data(), sizeof head);  // a PRF's output: already uniform
        return head & (kEntries - 1);
    }
    // Inlined always: GCC's IPA takes a call that only prefetches for one
    // without effects, and drops it.
    [[gnu::always_inline]] void prefetch_entry(const Mac& mac) const {
        if (!entries_)
            return;
        // Lines at its start + 0, 64, 128: with the alignment above, every line
        // the entry spans, and no other.
        const char* at = reinterpret_cast<const char*>(&entries_[index_of(mac)]);
        for (std::size_t line = 0; line < kEntryLines; ++line)
            __builtin_prefetch(at + line * kCacheLine);
    }
    bool keyed() const;
    void draw_key();
    void use_key();  // key_, for the MAC function chosen
    void wipe_entries() noexcept;
    Mac mac_of(std::string_view text) const;

    // Both are PRFs with a 128-bit key and tag; the choice is made once,
    // at creation, and only a test changes it.
    enum class MacFunction : std::uint8_t { aes_pmac, siphash };

    std::array<std::uint8_t, kKeyBytes> key_{};
    MacFunction mac_function_;
    AesPmac aes_pmac_;       // key_'s schedule and offsets, for MacFunction::aes_pmac
    unsigned keyed_in_ = 0;  // the fork epoch the key was drawn in (0: none yet)
    // The table in its own mapping, 2 MB aligned and asked for in huge pages:
    // a hit's first wait was the page walk for its entry's 4 KiB page.
    struct TableRelease {
        void operator()(Entry* entries) const noexcept;
    };
    static Entry* allocate_table() noexcept;
    std::unique_ptr<Entry[], TableRelease> entries_;
};

// The full path for the presented bytes; token_at: where the token it
// judged starts in them, kNoToken if they held none (not a cache miss).
inline constexpr std::size_t kNoToken = std::string_view::npos;
using TokenVerifier = AuthResult (*)(ClientStore&, std::string_view, std::int64_t,
                                     std::size_t& token_at);

// The verdict on a token (or a header value holding one): the store's
// verification cache's when it holds one for these bytes under the state
// published now, else verify()'s (then remembered if accepted). A store
// without a cache always verifies.
AuthResult remembered_verdict(ClientStore& store, std::string_view text,
                              VerificationCache::Presented presented, std::int64_t now,
                              TokenVerifier verify);
// A miss (cache: nullptr when the store has none): the full path, remembered
// when accepted and probe.usable. Out of line: a hit stays short.
AuthResult verified_in_full(ClientStore& store, std::string_view text, std::int64_t now,
                            TokenVerifier verify, VerificationCache* cache,
                            const VerificationCache::Probe& probe);

}  // namespace keyauth
