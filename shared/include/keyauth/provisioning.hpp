// Setting up a registry directory: LMDB files, the CA and the server
// certificate, with the modes and group docs/ARCHITECTURE.md lists.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "keyauth/registry_layout.hpp"
#include "keyauth/result.hpp"
#include "keyauth/x509.hpp"

namespace keyauth {

struct InitOptions {
    std::vector<std::string> hosts;    // empty: localhost, 127.0.0.1, ::1
    std::optional<std::string> group;  // readers' group (mosquitto, www-data)
    int days = kDefaultCaDays;
};

// Creates what is missing. Refuses (Errc::already_exists) to replace an
// existing CA. The directory is created 0750 (2750 with a group).
Status initialize_registry(const RegistryLayout& layout, const InitOptions& options);

bool registry_initialized(const RegistryLayout& layout);

// As init with defaults, if the registry has no CA yet. True if it made one.
// Safe against concurrent first uses.
Result<bool> ensure_registry(const RegistryLayout& layout);

Result<CertificateAuthority> load_authority(const RegistryLayout& layout);

}  // namespace keyauth
