// Fixed-size secret buffers that are wiped when they die.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <sodium.h>

namespace keyauth {

template <std::size_t N>
class SecretBytes {
  public:
    SecretBytes() { bytes_.fill(0); }
    SecretBytes(const SecretBytes& other) = default;
    SecretBytes& operator=(const SecretBytes& other) = default;
    ~SecretBytes() { sodium_memzero(bytes_.data(), bytes_.size()); }

    std::uint8_t* data() { return bytes_.data(); }
    const std::uint8_t* data() const { return bytes_.data(); }
    static constexpr std::size_t size() { return N; }

  private:
    std::array<std::uint8_t, N> bytes_;
};

}  // namespace keyauth
