#include "client_ids.hpp"

#include <cstddef>

#include <keyauth/authenticator.hpp>

namespace keyauth::mqtt {

bool looks_broker_assigned(std::string_view id) {
    constexpr std::size_t kLength = 36;
    if (id.size() < kLength)
        return false;
    // A prefix holding ':' puts the id in a registered client's namespace
    // (its id, ':', anything): never taken for the broker's.
    if (id.substr(0, id.size() - kLength).find(kClientIdSuffixSeparator) != std::string_view::npos)
        return false;
    const std::string_view uuid = id.substr(id.size() - kLength);
    for (std::size_t i = 0; i < kLength; ++i) {
        const char c = uuid[i];
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

}  // namespace keyauth::mqtt
