// The registry's write lock: writer.lock (mode 0600, the writer's alone),
// held with an open file description lock for the length of one write.
// Only the registry's owner can open the file, so no server user can take
// it, and a writer that cannot get it within the wait gives up with a
// message instead of hanging.
#pragma once

#include <string>

#include "keyauth/files.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

class WriterLock {
  public:
    static constexpr long kDefaultWaitMillis = 5000;

    // Two independent locks in one file, each a byte of it: every write
    // holds the first; `keytool init` holds the second around its whole
    // setup, which opens the registry (and takes the first) inside it.
    enum class Scope { writes = 0, provisioning = 1 };

    // Creates the lock file (0600) if it is missing.
    static Result<WriterLock> acquire(const std::string& path, Scope scope = Scope::writes,
                                      long wait_millis = kDefaultWaitMillis);

  private:
    explicit WriterLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;  // closing it releases the lock
};

}  // namespace keyauth
