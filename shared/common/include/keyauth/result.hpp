// Errors as values: every fallible core function returns Status or Result<T>.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace keyauth {

enum class Errc {
    ok = 0,
    invalid_argument,  // bad client id, bad option value
    unknown_client,
    already_exists,  // duplicate client id or existing output file
    not_found,       // missing file or registry
    permission_denied,
    // A login refused or impossible (etcd: a wrong or rotated password, a
    // deleted user, a token refused again after logging in afresh, TLS
    // failing at login): never "this key may not be read", which is
    // permission_denied.
    authentication_failed,
    registry_corrupt,
    registry_full,
    io_error,
    crypto_error,
    // Another process holds the registry's writer.lock past the wait (a
    // keytool stopped by Ctrl-Z inside a command): the same request succeeds
    // once it lets go, so a writer that must not lose it tries again.
    busy,
    // A registry change committed to LMDB, the registry of record, that the
    // servers do not see yet (publishing lookup.idx failed): it stands, and
    // the next writer publishes it. Never to be undone as if not made.
    not_published,
};

// A one-line, secret-free description of what went wrong.
struct Error {
    Errc code = Errc::io_error;
    std::string message;
};

class [[nodiscard]] Status {
  public:
    Status() = default;
    Status(Error error) : error_(std::move(error)) {}

    bool ok() const { return !error_.has_value(); }
    explicit operator bool() const { return ok(); }
    const Error& error() const { return *error_; }
    Errc code() const { return error_ ? error_->code : Errc::ok; }

  private:
    std::optional<Error> error_;
};

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : value_(std::move(value)) {}
    Result(Error error) : value_(std::move(error)) {}

    bool ok() const { return std::holds_alternative<T>(value_); }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<T>(value_); }
    const T& value() const& { return std::get<T>(value_); }
    T&& value() && { return std::get<T>(std::move(value_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() { return value(); }
    const Error& error() const { return std::get<Error>(value_); }
    Status status() const { return ok() ? Status() : Status(error()); }

  private:
    std::variant<T, Error> value_;
};

inline Error make_error(Errc code, std::string message) {
    return Error{code, std::move(message)};
}

}  // namespace keyauth
