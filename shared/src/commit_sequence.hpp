// The registry's commit sequence: a counter in commit.seq that only the
// writer can change, odd while a commit is being written and even otherwise.
// Readers map it read-only; the counter is how they know that what they read
// was one committed state (a seqlock across processes). See
// docs/ARCHITECTURE.md, "Readers that cannot write".
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "keyauth/result.hpp"
#include "mapped_file.hpp"

namespace keyauth {

class CommitSequence {
  public:
    // A reader's view: the file must exist and be what the writer made.
    static Result<CommitSequence> open_for_reading(const std::string& path);
    // The writer's: created (mode 0640, the group of group_from) if missing.
    static Result<CommitSequence> open_for_writing(const std::string& path,
                                                   const std::string& group_from);

    std::uint64_t load() const { return counter()->load(std::memory_order_acquire); }
    // Orders the reads a reader made before it compares the counter again.
    std::uint64_t reload() const {
        std::atomic_thread_fence(std::memory_order_acquire);
        return counter()->load(std::memory_order_relaxed);
    }

    // Writer only, under the write lock. A writer that died between these
    // two left the counter odd; the next one repairs what it was writing.
    bool odd() const { return load() & 1; }
    void begin_commit();  // odd (stays odd if it already is)
    void end_commit();    // the next even value

    dev_t device() const { return file_.device(); }
    ino_t inode() const { return file_.inode(); }

  private:
    static Result<CommitSequence> checked(Result<MappedFile> file, const std::string& path);
    std::atomic<std::uint64_t>* counter() const;

    MappedFile file_;
};

}  // namespace keyauth
