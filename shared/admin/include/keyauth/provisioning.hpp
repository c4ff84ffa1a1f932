// Setting up a registry directory: LMDB files, the CA and the server
// certificate, with the modes and group docs/ARCHITECTURE.md lists.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "keyauth/registry_layout.hpp"
#include "keyauth/result.hpp"
#include "keyauth/x509_authority.hpp"

namespace keyauth {

struct InitOptions {
    std::vector<std::string> hosts;    // empty: localhost, 127.0.0.1, ::1
    std::optional<std::string> group;  // readers' group (mosquitto, www-data)
    int days = kDefaultCaDays;
};

// Creates the registry (the directory 0750, 2750 with a group). On an
// initialized registry, options.hosts (if any) get a new server certificate
// and key signed by the registry's CA, and options.group (if any) becomes the
// readers' group; the CA and the clients stay as they are. Without either it
// refuses (Errc::already_exists). Safe against concurrent runs.
Status initialize_registry(const RegistryLayout& layout, const InitOptions& options);

bool registry_initialized(const RegistryLayout& layout);

Result<CertificateAuthority> load_authority(const RegistryLayout& layout);

}  // namespace keyauth
