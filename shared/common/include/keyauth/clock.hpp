#pragma once

#include <cstdint>
#include <ctime>

namespace keyauth {

inline std::int64_t unix_now() noexcept {
    return static_cast<std::int64_t>(std::time(nullptr));
}

}  // namespace keyauth
