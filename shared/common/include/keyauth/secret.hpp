// Secrets in memory: fixed-size buffers and strings, wiped when they die.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

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

// A std::string that is wiped when it dies: token text and private keys.
class SecretString {
  public:
    SecretString() = default;
    explicit SecretString(std::string value) : value_(std::move(value)) {}
    SecretString(SecretString&& other) noexcept : value_(std::move(other.value_)) {}
    SecretString& operator=(SecretString&& other) noexcept;
    SecretString(const SecretString&) = delete;
    SecretString& operator=(const SecretString&) = delete;
    ~SecretString();

    std::string_view view() const { return value_; }

  private:
    std::string value_;
};

}  // namespace keyauth
