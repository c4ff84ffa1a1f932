// What the console takes from keytool, and all it takes: named here, in the
// console's terms, and made by `keytool serve` (command_serve.cpp) from the
// code keytool's own commands use. The console includes nothing else of keytool.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "keyauth/client_record.hpp"
#include "keyauth/fleet_last_use.hpp"
#include "keyauth/issuance.hpp"
#include "keyauth/secret.hpp"
#include "record_store.hpp"

namespace keytool::console {

// Where the console reads and changes clients, as keytool's commands do:
// this host's registry, or the fleet's etcd with --etcd (record_store.hpp).
using keytool::RecordStore;

// A client as `keytool show --json` prints it.
nlohmann::ordered_json describe_client(std::string_view id,
                                       const keyauth::ClientCredentials& credentials,
                                       std::int64_t now);

// The hosts whose last use may be out of date, as `keytool list --json`
// gives them: [{"host": ..., "published_at": Unix seconds or null}, ...];
// null when the markers could not be read (not judged).
nlohmann::ordered_json describe_stale_hosts(const std::vector<keyauth::HostLastUse>& hosts,
                                            bool markers_read, std::int64_t now);

// What a new client is handed once, as `keytool gen --zip` saves it.
struct ClientFiles {
    std::string certificate_name;      // gen's names: myapp01_cert.pem,
    std::string private_key_name;      // myapp01_key.pem
    std::string token_name;            // and myapp01_token
    keyauth::SecretString token_file;  // the token and a newline
    keyauth::SecretString zip;         // the three files
};
ClientFiles client_files(const keyauth::IssuedClient& issued);

}  // namespace keytool::console
