#include "keyauth/secret.hpp"

namespace keyauth {

SecretString& SecretString::operator=(SecretString&& other) noexcept {
    if (this != &other) {
        sodium_memzero(value_.data(), value_.size());
        value_ = std::move(other.value_);
    }
    return *this;
}

SecretString::~SecretString() {
    sodium_memzero(value_.data(), value_.size());
}

}  // namespace keyauth
