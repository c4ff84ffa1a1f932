// The console's JSON: nlohmann's, with every buffer it frees wiped first. An
// answer may carry a private key or a token, and a JSON value copies its
// strings and grows its text as it writes.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace keytool::console {

template <class T>
struct WipingAllocator : std::allocator<T> {
    using value_type = T;
    template <class U>
    struct rebind {
        using other = WipingAllocator<U>;
    };
    WipingAllocator() = default;
    template <class U>
    WipingAllocator(const WipingAllocator<U>&) noexcept {}
    void deallocate(T* p, std::size_t n) {
        sodium_memzero(p, n * sizeof(T));
        std::allocator<T>::deallocate(p, n);
    }
};
template <class T, class U>
bool operator==(const WipingAllocator<T>&, const WipingAllocator<U>&) {
    return true;
}
template <class T, class U>
bool operator!=(const WipingAllocator<T>&, const WipingAllocator<U>&) {
    return false;
}

using WipedString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;
// Objects keep their fields in the order written, as keytool's JSON does.
using Json = nlohmann::basic_json<nlohmann::ordered_map, std::vector, WipedString, bool,
                                  std::int64_t, std::uint64_t, double, WipingAllocator>;

}  // namespace keytool::console
