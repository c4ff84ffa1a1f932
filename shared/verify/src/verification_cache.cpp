#include "verification_cache.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <cstring>
#include <new>
#include <type_traits>

#include <sodium.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "keyauth/token.hpp"

namespace keyauth {
namespace {

static_assert(VerificationCache::kMacBytes == crypto_shorthash_siphashx24_BYTES);
static_assert(VerificationCache::kKeyBytes == crypto_shorthash_siphashx24_KEYBYTES);
static_assert(VerificationCache::kMacBytes == crypto_verify_16_BYTES);
static_assert(VerificationCache::kMacBytes == AesPmac::kTagBytes);
static_assert(VerificationCache::kKeyBytes == AesPmac::kKeyBytes);
// Every block of the longest value a MAC is made of but its last has its
// offset in the table, never computed.
static_assert((VerificationCache::kMaxPresentedLength - 1) / 16 <= AesPmac::kOffsets);

// Two MACs compared in constant time: all 16 bytes, no branch nor memory
// access that depends on any of them (crypto_verify_16's promise, without
// its call where SSE2 does it in one comparison).
bool macs_equal(const VerificationCache::Mac& a, const VerificationCache::Mac& b) {
#if defined(__SSE2__)
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.data()));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.data()));
    return _mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) == 0xffff;
#else
    return crypto_verify_16(a.data(), b.data()) == 0;
#endif
}

// Moves in every child a fork makes, so that a cache keyed before the fork
// draws a key (and forgets its entries) of its own in the child.
std::atomic<unsigned> fork_epoch{1};

void count_fork_in_child() {
    fork_epoch.fetch_add(1, std::memory_order_relaxed);
}

bool watching_forks() {
    static const bool watching = pthread_atfork(nullptr, nullptr, count_fork_in_child) == 0;
    return watching;
}

}  // namespace

VerificationCache::VerificationCache()
    : mac_function_(AesPmac::available() ? MacFunction::aes_pmac : MacFunction::siphash) {}

VerificationCache::~VerificationCache() {
    wipe_entries();
    sodium_memzero(key_.data(), key_.size());
}

bool VerificationCache::keyed() const {
    return keyed_in_ == fork_epoch.load(std::memory_order_relaxed);
}

// First use in this process (or in a forked child): a new key, no entries.
void VerificationCache::draw_key() {
    keyed_in_ = 0;
    wipe_entries();
    if (!watching_forks() || sodium_init() < 0)
        return;  // never keyed: nothing is ever remembered
    randombytes_buf(key_.data(), key_.size());
    use_key();
    keyed_in_ = fork_epoch.load(std::memory_order_relaxed);
}

void VerificationCache::use_key() {
    if (mac_function_ == MacFunction::aes_pmac)
        aes_pmac_.set_key(key_);
}

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

constexpr std::size_t huge_pages_for(std::size_t bytes) {
    return (bytes + kHugePage - 1) / kHugePage * kHugePage;
}

}  // namespace

VerificationCache::Entry* VerificationCache::allocate_table() noexcept {
    static_assert(std::is_trivially_destructible_v<Entry>, "released by munmap alone");
    constexpr std::size_t bytes = huge_pages_for(kEntries * sizeof(Entry));
    // One huge page more than needed, so that a 2 MB boundary falls inside.
    void* mapped = mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED)
        return nullptr;  // only slower
    const auto begin = reinterpret_cast<std::uintptr_t>(mapped);
    const std::uintptr_t start = (begin + kHugePage - 1) / kHugePage * kHugePage;
    if (start != begin)
        munmap(mapped, start - begin);
    if (const std::uintptr_t slack = begin + kHugePage - start)
        munmap(reinterpret_cast<void*>(start + bytes), slack);
    void* table = reinterpret_cast<void*>(start);
#if defined(MADV_HUGEPAGE)
    madvise(table, bytes, MADV_HUGEPAGE);  // refused: 4 KiB pages, only slower
#endif
    Entry* entries = static_cast<Entry*>(table);
    std::uninitialized_value_construct_n(entries, kEntries);
    return entries;
}

void VerificationCache::TableRelease::operator()(Entry* entries) const noexcept {
    munmap(entries, huge_pages_for(kEntries * sizeof(Entry)));
}

void VerificationCache::wipe_entries() noexcept {
    if (entries_)
        sodium_memzero(entries_.get(), kEntries * sizeof(Entry));
}

VerificationCache::Mac VerificationCache::mac_of(std::string_view text) const {
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    if (mac_function_ == MacFunction::aes_pmac)
        return aes_pmac_.tag(bytes, text.size());
    Mac mac;
    crypto_shorthash_siphashx24(mac.data(), bytes, text.size(), key_.data());
    return mac;
}

bool VerificationCache::mac_into(std::string_view text, Presented presented, std::int64_t now,
                                 Probe& probe) {
    probe.usable = false;
    // Empty or longer than a token (and its scheme): never accepted.
    const std::size_t longest =
        presented == Presented::token ? kMaxTokenLength : kMaxPresentedLength;
    if (text.empty() || text.size() > longest)
        return false;
    if (!keyed()) {
        draw_key();
        if (!keyed())
            return false;
    }
    probe.mac = mac_of(text);
    probe.now = now;
    probe.presented = presented;
    return true;
}

const AuthResult* VerificationCache::entry_for(std::string_view text, std::uint64_t generation,
                                               Probe& probe) {
    // ~0: the registry cannot be read; 0: no generation is.
    if (generation == 0 || generation == ~std::uint64_t{0})
        return nullptr;
    probe.generation = generation;
    probe.usable = true;
    const Presented presented = probe.presented;
    const std::int64_t now = probe.now;
    if (!entries_)
        return nullptr;
    const Entry& entry = entries_[index_of(probe.mac)];
    // The whole MAC, in constant time, before anything else of the entry.
    if (!macs_equal(entry.mac, probe.mac) ||
        entry.presented != presented || entry.generation != generation ||
        now < entry.verified_at || now > entry.result.not_after) {
        return nullptr;
    }
    // The token names the client the entry admitted: even two tokens whose
    // MACs collided in full could never pass one client for another. Its
    // id, then the separator, where the entry says the token starts.
    const std::size_t id_length = entry.result.client_id_length;
    if (text.size() < entry.token_at + id_length + kTokenSeparator.size())
        return nullptr;
    const char* token = text.data() + entry.token_at;
    if (std::memcmp(token, entry.result.client_id_bytes, id_length) != 0 ||
        std::memcmp(token + id_length, kTokenSeparator.data(), kTokenSeparator.size()) != 0) {
        return nullptr;
    }
    return &entry.result;
}

void VerificationCache::remember(const Probe& probe, const AuthResult& accepted,
                                 std::size_t token_at) noexcept {
    if (!probe.usable || !accepted.accepted() || !keyed() || token_at > 0xff)
        return;
    if (!entries_) {
        entries_.reset(allocate_table());
        if (!entries_)
            return;  // only slower
    }
    Entry& entry = entries_[index_of(probe.mac)];
    entry.mac = probe.mac;
    entry.generation = probe.generation;
    entry.verified_at = probe.now;
    entry.presented = probe.presented;
    entry.token_at = static_cast<std::uint8_t>(token_at);
    entry.result = accepted;
    // As a hit answers: read in place, never adjusted after (a token's).
    entry.result.about = CredentialKind::token;
    entry.result.cache = CacheUse::hit;
}

AuthResult verified_in_full(ClientStore& store, std::string_view text, std::int64_t now,
                            TokenVerifier verify, VerificationCache* cache,
                            const VerificationCache::Probe& probe) {
    std::size_t token_at = 0;
    AuthResult result = verify(store, text, now, token_at);
    if (cache == nullptr)
        return result;
    if (result.accepted())
        cache->remember(probe, result, token_at);
    // A token the cache could never hold (empty, too long, an unreadable
    // registry, a header holding none) is no miss: the ratio stays about tokens it could answer.
    result.cache = probe.usable && token_at != kNoToken ? CacheUse::miss : CacheUse::not_consulted;
    return result;
}

AuthResult remembered_verdict(ClientStore& store, std::string_view text,
                              VerificationCache::Presented presented, std::int64_t now,
                              TokenVerifier verify) {
    VerificationCache* cache = store.verification_cache();
    VerificationCache::Probe probe;
    // The generation before the full path: see remember().
    if (cache != nullptr) {
        if (const AuthResult* remembered = cache->find(
                text, presented, [&store] { return store.generation(); }, now, probe))
            return *remembered;  // remember() made it a hit's verdict
    }
    return verified_in_full(store, text, now, verify, cache, probe);
}

}  // namespace keyauth
