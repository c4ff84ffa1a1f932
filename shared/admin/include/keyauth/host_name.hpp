// Host names for a server certificate's subjectAltNames.
#pragma once

#include <string>
#include <string_view>

#include "keyauth/result.hpp"

namespace keyauth {

// An IPv4/IPv6 literal or a DNS name (a wildcard only as a whole first label
// of a name with at least two more).
Status check_host_name(std::string_view host);
bool is_ip_address(const std::string& text);

}  // namespace keyauth
