// What the fuzz targets share: a small read-only registry of known clients,
// made once per process in a temporary directory.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "keyauth/lmdb_registry.hpp"
#include "test_support.hpp"

namespace keyauth_fuzz {

inline constexpr std::string_view kSecret =
    "00112233445566778899aabbccddeeff0123456789abcdef0f1e2d3c4b5a6978";
inline constexpr std::int64_t kNow = 1700000000;

// Ids registered with kSecret: live, not yet valid, expired, and the longest.
inline const std::string& live_token() {
    static const std::string token = keyauth_test::token_text("myapp01", kSecret);
    return token;
}

// Dies loudly: a fuzz target that cannot set up must not pass silently.
[[noreturn]] inline void die(const char* what) {
    std::fprintf(stderr, "fuzz setup failed: %s\n", what);
    std::abort();
}

inline keyauth::RegistryReader& registry() {
    static keyauth_test::TempRegistry* temp = new keyauth_test::TempRegistry;  // outlives atexit
    static std::unique_ptr<keyauth::RegistryReader> reader = [] {
        std::atexit([] { keyauth_test::TempDir::remove_tree(temp->path()); });
        const keyauth::TokenHash hash = keyauth_test::hash_of_hex(kSecret);
        const bool written =
            keyauth_test::write_registry(temp->path(), [&](keyauth::RegistryWriter& w) {
                auto with_hash = [&](std::uint8_t tag, std::int64_t nb, std::int64_t na) {
                    keyauth::ClientCredentials c = keyauth_test::make_credentials(tag, nb, na);
                    c.token_hash = hash;
                    return c;
                };
                return keyauth_test::put_client(w, "myapp01", with_hash(1, kNow - 10, kNow + 10)) &&
                       keyauth_test::put_client(w, "later", with_hash(3, kNow + 1, kNow + 10)) &&
                       keyauth_test::put_client(w, "old", with_hash(5, kNow - 10, kNow - 1)) &&
                       keyauth_test::put_client(w, std::string(64, 'L'),
                                                with_hash(7, kNow - 10, kNow + 10));
            });
        if (!written)
            die("writing the registry");
        auto opened = temp->open_reader();
        if (!opened)
            die("opening the registry read-only");
        return opened;
    }();
    return *reader;
}

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// An invariant of the code under test does not hold.
#define FUZZ_CHECK(condition)                                                                  \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                      \
        }                                                                                      \
    } while (0)

}  // namespace keyauth_fuzz
