// What the registry's reader and writer tests share: three records, numbered
// clients, a first index filled to its capacity, and the names both files use.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "unit_test.hpp"

#include "keyauth/lmdb_registry.hpp"

using keyauth::ClientCredentials;
using keyauth::Errc;
using keyauth::LmdbRegistry;
using keyauth::OpenMode;
using keyauth::RegistryWriter;
using keyauth_test::ChildWriter;
using keyauth_test::exit_code_of;
using keyauth_test::fingerprint_filled;
using keyauth_test::hold_write_in_child;
using keyauth_test::make_credentials;
using keyauth_test::put_client;
using keyauth_test::TempDir;
using keyauth_test::TempRegistry;
using keyauth_test::write_registry;
using keyauth_test::write_registry_in_child;

// Each with a token hash, fingerprint and serial of its own.
inline const ClientCredentials kFirst = make_credentials(0x10, 1000, 2000);
inline const ClientCredentials kSecond = make_credentials(0x20, 3000, 4000);
inline const ClientCredentials kThird = make_credentials(0x40, 3000, 4000);

// Credentials of their own for the nth client of a test, marked by `round`.
inline ClientCredentials numbered(int n, std::uint8_t round) {
    ClientCredentials c = make_credentials(round, n, n + 1);
    std::memcpy(c.certificate_fingerprint.bytes.data(), &n, sizeof n);
    return c;
}

// Puts client<from> to client<to - 1>, replacing any already there.
inline bool put_numbered(RegistryWriter& w, int from, int to, std::uint8_t round) {
    for (int i = from; i < to; ++i) {
        if (!put_client(w, "client" + std::to_string(i), numbered(i, round), true))
            return false;
    }
    return true;
}

// A first index has 1 024 slots a table and takes 870 clients (85 %): to a
// registry holding one client, this adds client1 to client869 in one commit,
// so that the next client makes a new lookup.idx.
inline constexpr int kFirstIndexCapacity = 870;

inline bool fill_first_index(TempRegistry& temp) {
    return write_registry(temp.path(), [](RegistryWriter& w) {
        return put_numbered(w, 1, kFirstIndexCapacity, 0x30);
    });
}
