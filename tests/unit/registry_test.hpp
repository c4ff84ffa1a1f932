// What the registry's reader and writer tests share: three records and the
// names both files use.
#pragma once

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
