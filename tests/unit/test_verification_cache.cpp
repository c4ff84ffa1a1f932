// The per-process verification cache (issue 19, verification_cache.hpp): a
// token verified once is served from memory while nothing is published, and
// every change the full path would see is seen on the very next request.
#include "unit_test.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <sodium.h>

#include "keyauth/authenticator.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/hex.hpp"
#include "aes_pmac.hpp"
#include "verification_cache.hpp"

using keyauth::AuthResult;
using keyauth::RegistryWriter;
using keyauth::Verdict;
using keyauth::VerificationCache;
using keyauth_test::kOtherSecret;
using keyauth_test::kSecret;
using keyauth_test::LiveClients;
using keyauth_test::put_client;
using keyauth_test::token_text;

namespace keyauth {

// The tests' only way in: no production code can name it (the friend
// declaration in verification_cache.hpp is all there is outside tests/unit).
struct VerificationCacheTesting {
    using Key = std::array<std::uint8_t, VerificationCache::kKeyBytes>;

    // A key chosen by the test, in place of the random one; no entries.
    static void set_key(VerificationCache& cache, const Key& key) {
        cache.draw_key();
        cache.key_ = key;
        cache.use_key();
        cache.wipe_entries();
    }
    // SipHash-2-4-128, as on a CPU without AES-NI; a new key, no entries.
    static void use_siphash(VerificationCache& cache) {
        cache.mac_function_ = VerificationCache::MacFunction::siphash;
        cache.draw_key();
    }
    static bool uses_aes_pmac(const VerificationCache& cache) {
        return cache.mac_function_ == VerificationCache::MacFunction::aes_pmac;
    }
    static Key key(const VerificationCache& cache) { return cache.key_; }
    static VerificationCache::Mac mac_of(const VerificationCache& cache, std::string_view token) {
        return cache.mac_of(token);
    }
    static std::size_t index_of(const VerificationCache::Mac& mac) {
        return VerificationCache::index_of(mac);
    }
    static VerificationCache::Entry* entry_for(VerificationCache& cache, std::string_view token) {
        if (!cache.entries_)
            return nullptr;
        VerificationCache::Entry& entry = cache.entries_[index_of(cache.mac_of(token))];
        return entry.mac == cache.mac_of(token) && entry.generation != 0 ? &entry : nullptr;
    }
    // The whole table as bytes, to look for secrets in.
    static std::string_view table(const VerificationCache& cache) {
        if (!cache.entries_)
            return {};
        return {reinterpret_cast<const char*>(cache.entries_.get()),
                VerificationCache::kEntries * sizeof(VerificationCache::Entry)};
    }
    // How many 64-byte lines the table's entry i spans, and the fewest any
    // entry of its size could.
    static std::size_t lines_of_entry(const VerificationCache& cache, std::size_t i) {
        const auto start = reinterpret_cast<std::uintptr_t>(&cache.entries_[i]);
        const std::uintptr_t end = start + sizeof(VerificationCache::Entry) - 1;
        return end / VerificationCache::kCacheLine - start / VerificationCache::kCacheLine + 1;
    }
    static std::uintptr_t table_address(const VerificationCache& cache) {
        return reinterpret_cast<std::uintptr_t>(cache.entries_.get());
    }
    static constexpr std::size_t kEntries = VerificationCache::kEntries;
    static constexpr std::size_t kEntryLines = VerificationCache::kEntryLines;
    // An entry as remember() would write it, under any MAC.
    static void plant(VerificationCache& cache, const VerificationCache::Mac& mac,
                      std::uint64_t generation, std::int64_t verified_at, const AuthResult& result,
                      VerificationCache::Presented presented = VerificationCache::Presented::token,
                      std::size_t token_at = 0) {
        VerificationCache::Probe probe{mac, generation, verified_at, true, presented};
        cache.remember(probe, result, token_at);
    }
};

}  // namespace keyauth

using Testing = keyauth::VerificationCacheTesting;

namespace {

// Every test runs twice: with the MAC the CPU picks (PMAC1 with AES-128 where it
// has AES-NI), then with SipHash-2-4-128 forced, the other CPUs' MAC.
bool force_siphash = false;

// myapp01 and myapp02, both with kSecret, live from now - 10 for an hour.
struct Clients : LiveClients {
    explicit Clients(std::int64_t now = keyauth::unix_now())
        : LiveClients({{"myapp01", kSecret, now - 10, now + 3600},
                       {"myapp02", kSecret, now - 10, now + 3600}}),
          now(now) {
        if (force_siphash && ready())
            Testing::use_siphash(cache());
    }
    VerificationCache& cache() { return *reader().verification_cache(); }
    AuthResult check(std::string_view token, std::int64_t at) {
        return keyauth::check_token(reader(), token, at);
    }
    AuthResult check(std::string_view token) { return check(token, now); }
    const std::int64_t now;
};

const std::string kToken1 = token_text("myapp01", kSecret);
const std::string kToken2 = token_text("myapp02", kSecret);

// A hit is told from a full check by a not_after the registry never held,
// written into the entry (still in the future, so a hit serves it).
constexpr std::int64_t kMarked = 4102444800;  // 2100-01-01

void mark(Clients& f, std::string_view token) {
    auto* entry = Testing::entry_for(f.cache(), token);
    assert_non_null(entry);
    entry->result.not_after = kMarked;
}

bool served_from_cache(const AuthResult& result) {
    return result.accepted() && result.not_after == kMarked;
}

void assert_same_result(const AuthResult& a, const AuthResult& b) {
    assert_int_equal(a.verdict, b.verdict);
    assert_int_equal(a.about, b.about);
    assert_sv_equal(a.client_id(), b.client_id());
    assert_int_equal(a.not_after, b.not_after);
    assert_int_equal(a.credential.kind, b.credential.kind);
    assert_memory_equal(a.credential.bytes.data(), b.credential.bytes.data(),
                        a.credential.bytes.size());
}

void a_remembered_token_gets_the_same_verdict(void** state) {
    auto& f = fixture_of<Clients>(state);
    const AuthResult full = f.check(kToken1);
    assert_int_equal(full.verdict, Verdict::accepted);
    assert_non_null(Testing::entry_for(f.cache(), kToken1));
    const AuthResult hit = f.check(kToken1);
    assert_same_result(hit, full);
    // And through the one entry point, as a Bearer header.
    keyauth::Presented presented;
    const std::string header = "Bearer " + kToken1;
    presented.authorization = header;
    keyauth::Requirements requirements;
    requirements.token = keyauth::Check::required;
    assert_same_result(keyauth::authenticate(f.reader(), presented, requirements, f.now), full);
    mark(f, kToken1);
    assert_true(served_from_cache(f.check(kToken1)));
}

void only_accepted_verdicts_are_remembered(void** state) {
    auto& f = fixture_of<Clients>(state);
    const std::string wrong = token_text("myapp01", kOtherSecret);
    assert_int_equal(f.check(wrong).verdict, Verdict::mismatch);
    assert_null(Testing::entry_for(f.cache(), wrong));
    const std::string unknown = token_text("nobody", kSecret);
    assert_int_equal(f.check(unknown).verdict, Verdict::unknown_client);
    assert_null(Testing::entry_for(f.cache(), unknown));
}

void another_token_of_the_same_client_is_checked_in_full(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(f.check(kToken1).accepted());
    mark(f, kToken1);
    assert_int_equal(f.check(token_text("myapp01", kOtherSecret)).verdict, Verdict::mismatch);
    // A token differing in its last digit only.
    std::string near = kToken1;
    near.back() = near.back() == '8' ? '9' : '8';
    assert_int_equal(f.check(near).verdict, Verdict::mismatch);
}

void a_replaced_token_is_refused_on_the_next_request(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(f.check(kToken1).accepted());
    mark(f, kToken1);
    assert_true(served_from_cache(f.check(kToken1)));
    assert_true(f.change([&](RegistryWriter& w) {  // keytool gen myapp01 --force
        return put_client(
            w, "myapp01",
            keyauth_test::credentials_with_secret(1, kOtherSecret, f.now - 10, f.now + 3600),
            true);
    }));
    assert_int_equal(f.check(kToken1).verdict, Verdict::mismatch);
    assert_true(f.check(token_text("myapp01", kOtherSecret)).accepted());
}

void a_deleted_client_is_refused_on_the_next_request(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(f.check(kToken1).accepted());
    mark(f, kToken1);
    assert_true(f.change([](RegistryWriter& w) { return w.erase("myapp01").ok(); }));
    assert_int_equal(f.check(kToken1).verdict, Verdict::unknown_client);
}

void any_commit_retires_every_entry(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(f.check(kToken1).accepted());
    assert_true(f.check(kToken2).accepted());
    mark(f, kToken1);
    mark(f, kToken2);
    assert_true(served_from_cache(f.check(kToken2)));
    // A change to another client: myapp01's entry is not served either.
    assert_true(f.change([&](RegistryWriter& w) {
        return put_client(w, "myapp03",
                          keyauth_test::credentials_with_secret(3, kSecret, f.now, f.now + 60));
    }));
    const AuthResult after = f.check(kToken1);
    assert_true(after.accepted());
    assert_false(served_from_cache(after));
    assert_int_equal(after.not_after, f.now + 3600);
    assert_false(served_from_cache(f.check(kToken2)));
}

void a_passing_expiry_is_seen_on_the_next_request(void** state) {
    auto& f = fixture_of<Clients>(state);
    const AuthResult admitted = f.check(kToken1);
    assert_true(admitted.accepted());
    assert_true(f.check(kToken1, admitted.not_after).accepted());  // the last second
    assert_int_equal(f.check(kToken1, admitted.not_after + 1).verdict, Verdict::expired);
}

void a_clock_set_back_is_checked_in_full(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(f.check(kToken1).accepted());
    mark(f, kToken1);
    // Before the moment it was verified: the entry knows nothing of then.
    const AuthResult earlier = f.check(kToken1, f.now - 5);
    assert_true(earlier.accepted());
    assert_false(served_from_cache(earlier));
    assert_int_equal(f.check(kToken1, f.now - 11).verdict, Verdict::not_yet_valid);
}

// A key the test knows (byte i is i * step + start), in place of the random one.
void set_known_key(VerificationCache& cache, unsigned step, unsigned start) {
    Testing::Key key{};
    for (std::size_t i = 0; i < key.size(); ++i)
        key[i] = static_cast<std::uint8_t>(i * step + start);
    Testing::set_key(cache, key);
}

// Same bucket, another MAC: with a key the test knows, a wrong token whose
// MAC falls in a remembered token's bucket is found by trying.
void a_wrong_token_in_the_same_bucket_is_refused(void** state) {
    auto& f = fixture_of<Clients>(state);
    set_known_key(f.cache(), 7, 1);
    assert_true(f.check(kToken1).accepted());
    const auto bucket = Testing::index_of(Testing::mac_of(f.cache(), kToken1));
    std::string wrong;
    for (unsigned i = 0; i < 1u << 20 && wrong.empty(); ++i) {
        std::string secret(kSecret);
        const std::string digits = keyauth::to_hex(reinterpret_cast<const std::uint8_t*>(&i), 4);
        secret.replace(0, digits.size(), digits);
        const std::string candidate = token_text("myapp01", secret);
        if (candidate != kToken1 &&
            Testing::index_of(Testing::mac_of(f.cache(), candidate)) == bucket)
            wrong = candidate;
    }
    assert_false(wrong.empty());
    mark(f, kToken1);
    assert_int_equal(f.check(wrong).verdict, Verdict::mismatch);
    assert_true(served_from_cache(f.check(kToken1)));  // and it stays
}

// The whole MAC is compared, not a prefix: an entry under the token's MAC
// with one byte changed (in the middle, at the end) is not served.
void every_byte_of_the_mac_is_compared(void** state) {
    auto& f = fixture_of<Clients>(state);
    const AuthResult full = f.check(kToken1);
    assert_true(full.accepted());
    const std::uint64_t generation = f.reader().generation();
    for (std::size_t byte : {4u, 9u, 15u}) {  // bytes 0-3 choose the bucket
        VerificationCache::Mac mac = Testing::mac_of(f.cache(), kToken1);
        mac[byte] ^= 0x01;
        AuthResult planted = full;
        planted.not_after = kMarked;
        Testing::plant(f.cache(), mac, generation, f.now, planted);
        const AuthResult again = f.check(kToken1);
        assert_true(again.accepted());
        assert_false(served_from_cache(again));
    }
}

// A full 128-bit collision cannot be found without the key, which never
// leaves the process; planted here by the test, it still cannot pass one
// client for another: a hit needs the token to name the entry's client.
void a_full_mac_collision_never_admits_another_client(void** state) {
    auto& f = fixture_of<Clients>(state);
    const AuthResult myapp01 = f.check(kToken1);
    assert_true(myapp01.accepted());
    const std::uint64_t generation = f.reader().generation();
    const std::string forged = token_text("myapp02", kOtherSecret);
    Testing::plant(f.cache(), Testing::mac_of(f.cache(), forged), generation, f.now, myapp01);
    assert_int_equal(f.check(forged).verdict, Verdict::mismatch);
    const std::string unknown = token_text("nobody", kSecret);
    Testing::plant(f.cache(), Testing::mac_of(f.cache(), unknown), generation, f.now, myapp01);
    assert_int_equal(f.check(unknown).verdict, Verdict::unknown_client);
}

// What a memory dump of the table shows: MACs, ids, the BLAKE2b digest the
// registry holds too. Not the token, its secret in hex or in bytes.
void the_table_holds_no_secret(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(f.check(kToken1).accepted());
    assert_true(f.check(kToken2).accepted());
    const std::string_view table = Testing::table(f.cache());
    assert_true(table.size() > 0);
    const auto holds = [&](std::string_view what) {
        return std::search(table.begin(), table.end(), what.begin(), what.end()) != table.end();
    };
    keyauth::TokenSecret secret;
    assert_true(keyauth::from_lower_hex(kSecret, secret.data(), secret.size()));
    assert_false(holds(kToken1));
    assert_false(holds(kSecret));
    assert_false(holds({reinterpret_cast<const char*>(secret.data()), secret.size()}));
    assert_false(holds({reinterpret_cast<const char*>(secret.data()), 8}));
    const auto key = Testing::key(f.cache());
    assert_false(holds({reinterpret_cast<const char*>(key.data()), key.size()}));
    assert_true(holds("myapp01"));  // what it does hold
}

// A hit reads its entry's lines, which find() asks for ahead: no entry may
// straddle one line more than its size needs (with malloc's 16-byte
// alignment every other one spanned four lines, not three).
void no_entry_spans_more_lines_than_its_size_needs(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(f.check(kToken1).accepted());  // the table is allocated
    for (std::size_t i = 0; i < Testing::kEntries; ++i)
        assert_int_equal(Testing::lines_of_entry(f.cache(), i), Testing::kEntryLines);
}

// The table starts on a 2 MB boundary, so that it can be held in huge pages
// (its 4 KiB pages cost a hit a page walk each, after the kernel's work).
void the_table_starts_on_a_huge_page_boundary(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(f.check(kToken1).accepted());  // the table is allocated
    assert_int_equal(Testing::table_address(f.cache()) % (std::uintptr_t{2} << 20), 0);
    assert_true(f.check(kToken1).accepted());
}

// A fleet of a thousand devices in turn: each token's entry must outlive the
// thousand checks until it comes back. With a key the test knows, a
// thousand tokens' entries planted, most are still there (4 096 entries kept
// 883 and 888 under the two MACs, 16 384 keep 961 and 969).
void most_of_a_thousand_tokens_keep_their_entries(void** state) {
    auto& f = fixture_of<Clients>(state);
    set_known_key(f.cache(), 3, 11);
    const AuthResult myapp01 = f.check(kToken1);
    assert_true(myapp01.accepted());
    const std::uint64_t generation = f.reader().generation();
    std::vector<std::string> tokens;
    for (int i = 0; i < 1000; ++i)
        tokens.push_back(token_text("device" + std::to_string(i), kSecret));
    for (const std::string& token : tokens)
        Testing::plant(f.cache(), Testing::mac_of(f.cache(), token), generation, f.now, myapp01);
    std::size_t kept = 0;
    for (const std::string& token : tokens)
        kept += Testing::entry_for(f.cache(), token) != nullptr ? 1 : 0;
    print_message("%zu of 1000 entries kept\n", kept);
    assert_true(kept >= 950);
}

// A child of fork draws its own key and forgets the parent's entries.
void a_forked_child_has_a_key_of_its_own(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(f.check(kToken1).accepted());
    mark(f, kToken1);
    const auto parent_key = Testing::key(f.cache());
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const AuthResult in_child = f.check(kToken1);
        const bool fresh = in_child.accepted() && in_child.not_after != kMarked &&
                           Testing::key(f.cache()) != parent_key;
        _exit(fresh ? 0 : 1);
    }
    assert_int_equal(keyauth_test::exit_code_of(pid), 0);
    assert_true(served_from_cache(f.check(kToken1)));  // the parent's are its own
}

void a_registry_that_cannot_be_read_is_never_served_from_memory(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(f.check(kToken1).accepted());
    VerificationCache::Probe probe;
    assert_null(f.cache().find(
        kToken1, VerificationCache::Presented::token, [] { return ~std::uint64_t{0}; }, f.now,
        probe));
    assert_false(probe.usable);
}

// The hosts' hit and miss counters read this from each verdict.
void each_verdict_says_whether_the_cache_answered(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_int_equal(f.check(kToken1).cache, keyauth::CacheUse::miss);
    assert_int_equal(f.check(kToken1).cache, keyauth::CacheUse::hit);
    assert_int_equal(f.check(kToken1).cache, keyauth::CacheUse::hit);
    // Refused tokens are verified in full every time: never remembered.
    const std::string wrong = token_text("myapp01", kOtherSecret);
    assert_int_equal(f.check(wrong).cache, keyauth::CacheUse::miss);
    assert_int_equal(f.check(wrong).cache, keyauth::CacheUse::miss);
    assert_int_equal(f.check("nope").cache, keyauth::CacheUse::miss);
    // No token looked at: the cache was not asked.
    keyauth::Presented presented;
    keyauth::Requirements requirements;
    requirements.token = keyauth::Check::required;
    const AuthResult missing = keyauth::authenticate(f.reader(), presented, requirements, f.now);
    assert_int_equal(missing.verdict, Verdict::missing);
    assert_int_equal(missing.cache, keyauth::CacheUse::not_consulted);
    const std::string header = "Bearer " + kToken2;
    presented.authorization = header;
    assert_int_equal(keyauth::authenticate(f.reader(), presented, requirements, f.now).cache,
                     keyauth::CacheUse::miss);
    assert_int_equal(keyauth::authenticate(f.reader(), presented, requirements, f.now).cache,
                     keyauth::CacheUse::hit);
}

// The MAC is PMAC1 with AES-128 where the CPU has AES-NI, SipHash-2-4-128
// elsewhere (and in the second run of every test here), each under the
// cache's key.
void entries_are_keyed_by_the_mac_the_cpu_computes_fastest(void** state) {
    auto& f = fixture_of<Clients>(state);
    set_known_key(f.cache(), 3, 11);
    const auto key = Testing::key(f.cache());
    const auto mac = Testing::mac_of(f.cache(), kToken1);
    const auto* bytes = reinterpret_cast<const unsigned char*>(kToken1.data());
    VerificationCache::Mac expected{};
    if (force_siphash || !keyauth::AesPmac::available()) {
        assert_false(Testing::uses_aes_pmac(f.cache()));
        crypto_shorthash_siphashx24(expected.data(), bytes, kToken1.size(), key.data());
    } else {
        assert_true(Testing::uses_aes_pmac(f.cache()));
        keyauth::AesPmac pmac;
        pmac.set_key(key);
        expected = pmac.tag(bytes, kToken1.size());
    }
    assert_true(mac == expected);
    // And a hit is found under it.
    assert_int_equal(f.check(kToken1).cache, keyauth::CacheUse::miss);
    assert_int_equal(f.check(kToken1).cache, keyauth::CacheUse::hit);
    assert_non_null(Testing::entry_for(f.cache(), kToken1));
}

// ---- An HTTP request's Authorization value, cached whole (no header parse)

constexpr auto kHeader = VerificationCache::Presented::bearer_header;

AuthResult check_header(Clients& f, std::string_view header, std::int64_t at) {
    keyauth::Presented presented;
    presented.authorization = header;
    keyauth::Requirements requirements;
    requirements.token = keyauth::Check::required;
    return keyauth::authenticate(f.reader(), presented, requirements, at);
}
AuthResult check_header(Clients& f, std::string_view header) {
    return check_header(f, header, f.now);
}

const std::string kHeader1 = "Bearer " + kToken1;

void a_header_seen_before_is_answered_from_its_entry(void** state) {
    auto& f = fixture_of<Clients>(state);
    const AuthResult full = check_header(f, kHeader1);
    assert_true(full.accepted());
    assert_int_equal(full.cache, keyauth::CacheUse::miss);
    // Keyed by the header's bytes, not the token's alone.
    assert_non_null(Testing::entry_for(f.cache(), kHeader1));
    assert_null(Testing::entry_for(f.cache(), kToken1));
    const AuthResult hit = check_header(f, kHeader1);
    assert_int_equal(hit.cache, keyauth::CacheUse::hit);
    assert_same_result(hit, full);
    mark(f, kHeader1);
    assert_true(served_from_cache(check_header(f, kHeader1)));
    // The same token with other spacing or scheme case: its own entry, same verdict.
    const AuthResult spaced = check_header(f, "bearer   " + kToken1 + " ");
    assert_true(spaced.accepted());
    assert_false(served_from_cache(spaced));
}

void a_replaced_token_in_a_header_is_refused_on_the_next_request(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(check_header(f, kHeader1).accepted());
    mark(f, kHeader1);
    assert_true(served_from_cache(check_header(f, kHeader1)));
    assert_true(f.change([&](RegistryWriter& w) {  // keytool gen myapp01 --force
        return put_client(
            w, "myapp01",
            keyauth_test::credentials_with_secret(1, kOtherSecret, f.now - 10, f.now + 3600),
            true);
    }));
    assert_int_equal(check_header(f, kHeader1).verdict, Verdict::mismatch);
    assert_true(check_header(f, "Bearer " + token_text("myapp01", kOtherSecret)).accepted());
}

void a_commit_retires_a_header_entry(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(check_header(f, kHeader1).accepted());
    mark(f, kHeader1);
    assert_true(f.change([&](RegistryWriter& w) {
        return put_client(w, "myapp03",
                          keyauth_test::credentials_with_secret(3, kSecret, f.now, f.now + 60));
    }));
    const AuthResult after = check_header(f, kHeader1);
    assert_true(after.accepted());
    assert_false(served_from_cache(after));
}

void a_passing_expiry_is_seen_through_a_header_entry(void** state) {
    auto& f = fixture_of<Clients>(state);
    const AuthResult admitted = check_header(f, kHeader1);
    assert_true(admitted.accepted());
    const AuthResult last = check_header(f, kHeader1, admitted.not_after);
    assert_true(last.accepted());
    assert_int_equal(last.cache, keyauth::CacheUse::hit);
    assert_int_equal(check_header(f, kHeader1, admitted.not_after + 1).verdict,
                     Verdict::expired);
}

// A header entry and a token entry never answer for each other: an MQTT
// username holding "Bearer <token>" is no token, whatever a header with
// those bytes was judged.
void a_header_entry_never_answers_for_a_bare_token(void** state) {
    auto& f = fixture_of<Clients>(state);
    assert_true(check_header(f, kHeader1).accepted());
    mark(f, kHeader1);
    const AuthResult as_token = f.check(kHeader1);
    assert_int_equal(as_token.verdict, Verdict::malformed);
    // And a token's entry planted under a header's MAC is not served for the header.
    const std::string other = "Bearer  " + kToken1;
    AuthResult planted = check_header(f, kHeader1);
    planted.not_after = kMarked;
    Testing::plant(f.cache(), Testing::mac_of(f.cache(), other), f.reader().generation(), f.now,
                   planted, VerificationCache::Presented::token, 0);
    const AuthResult spaced = check_header(f, other);
    assert_true(spaced.accepted());
    assert_false(served_from_cache(spaced));
}

// With a key the test sets, a header entry planted under another header's
// MAC (a full collision) still cannot pass one client for another: the token
// at the entry's offset must name the entry's client.
void a_full_mac_collision_on_a_header_never_admits_another_client(void** state) {
    auto& f = fixture_of<Clients>(state);
    set_known_key(f.cache(), 13, 5);
    const AuthResult myapp01 = check_header(f, kHeader1);
    assert_true(myapp01.accepted());
    const std::uint64_t generation = f.reader().generation();
    const std::string forged = "Bearer " + token_text("myapp02", kOtherSecret);
    Testing::plant(f.cache(), Testing::mac_of(f.cache(), forged), generation, f.now, myapp01,
                   kHeader, 7);
    assert_int_equal(check_header(f, forged).verdict, Verdict::mismatch);
    // An offset past the end of a shorter value is a miss, not a read past it.
    const std::string short_header = "Bearer x";
    Testing::plant(f.cache(), Testing::mac_of(f.cache(), short_header), generation, f.now,
                   myapp01, kHeader, 200);
    assert_int_equal(check_header(f, short_header).verdict, Verdict::malformed);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        unit_test_with(Clients, a_remembered_token_gets_the_same_verdict),
        unit_test_with(Clients, only_accepted_verdicts_are_remembered),
        unit_test_with(Clients, another_token_of_the_same_client_is_checked_in_full),
        unit_test_with(Clients, a_replaced_token_is_refused_on_the_next_request),
        unit_test_with(Clients, a_deleted_client_is_refused_on_the_next_request),
        unit_test_with(Clients, any_commit_retires_every_entry),
        unit_test_with(Clients, a_passing_expiry_is_seen_on_the_next_request),
        unit_test_with(Clients, a_clock_set_back_is_checked_in_full),
        unit_test_with(Clients, a_wrong_token_in_the_same_bucket_is_refused),
        unit_test_with(Clients, every_byte_of_the_mac_is_compared),
        unit_test_with(Clients, a_full_mac_collision_never_admits_another_client),
        unit_test_with(Clients, the_table_holds_no_secret),
        unit_test_with(Clients, no_entry_spans_more_lines_than_its_size_needs),
        unit_test_with(Clients, most_of_a_thousand_tokens_keep_their_entries),
        unit_test_with(Clients, the_table_starts_on_a_huge_page_boundary),
        unit_test_with(Clients, a_forked_child_has_a_key_of_its_own),
        unit_test_with(Clients, a_registry_that_cannot_be_read_is_never_served_from_memory),
        unit_test_with(Clients, each_verdict_says_whether_the_cache_answered),
        unit_test_with(Clients, entries_are_keyed_by_the_mac_the_cpu_computes_fastest),
        unit_test_with(Clients, a_header_seen_before_is_answered_from_its_entry),
        unit_test_with(Clients, a_replaced_token_in_a_header_is_refused_on_the_next_request),
        unit_test_with(Clients, a_commit_retires_a_header_entry),
        unit_test_with(Clients, a_passing_expiry_is_seen_through_a_header_entry),
        unit_test_with(Clients, a_header_entry_never_answers_for_a_bare_token),
        unit_test_with(Clients, a_full_mac_collision_on_a_header_never_admits_another_client),
    };
    const int with_the_cpus_mac =
        cmocka_run_group_tests_name("the CPU's MAC", tests, nullptr, nullptr);
    force_siphash = true;
    return with_the_cpus_mac +
           cmocka_run_group_tests_name("SipHash-2-4-128 forced", tests, nullptr, nullptr);
}
