// File descriptors and file errors, as every part of keyauth handles them.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>

#include "keyauth/result.hpp"

namespace keyauth {

class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd();

    int get() const { return fd_; }
    int release();
    bool valid() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

Result<std::string> read_small_file(const std::string& path);
// At most limit bytes from fd's current offset (fewer at its end); path
// names it in errors.
Result<std::string> read_up_to(int fd, std::size_t limit, const std::string& path);

// An errno as an error naming the path (permission_denied, not_found, ...).
Error file_error(int err, const std::string& path);

// The name service's answers, reentrant (keyauth-sync's threads ask too).
// The name of the user whose uid is uid, if the name service knows it.
std::optional<std::string> name_of_user(uid_t uid);
// "name (uid N)", or "uid N" for a uid no user has: for messages.
std::string user_named(uid_t uid);
enum class UserLookup { found, absent, failed };
// The uid of the user named name, asked of the name service (reentrant):
// absent if it has none, failed if it could not answer.
UserLookup uid_of_user(const char* name, uid_t& uid);

// Makes a rename or unlink in dir durable.
Status fsync_directory(const std::string& dir);

}  // namespace keyauth
