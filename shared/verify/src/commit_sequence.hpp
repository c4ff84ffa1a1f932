// The registry's commit sequence: a counter in commit.seq that only the
// writer can change. Its value V publishes a state: readers use copy V & 1
// of lookup.idx, whose header must say V too. Readers map it read-only and
// trust what they read only if V did not move meanwhile. See
// docs/ARCHITECTURE.md, "Readers that never wait".
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "keyauth/result.hpp"
#include "mapped_file.hpp"

namespace keyauth {

class CommitSequence {
  public:
    // Where the counter is in the file: after 8 bytes of magic.
    static constexpr std::size_t kCounterOffset = 8;
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

    // Writer only, under the write lock: one aligned store, then the
    // counter's own page to disk (a copy is durable before it is named).
    Status publish(std::uint64_t version);
    // open_for_writing made the file: nothing on disk was published by it.
    bool created() const { return created_; }

    dev_t device() const { return file_.device(); }
    ino_t inode() const { return file_.inode(); }

  private:
    static Result<CommitSequence> checked(Result<MappedFile> file, const std::string& path);
    std::atomic<std::uint64_t>* counter() const {
        return reinterpret_cast<std::atomic<std::uint64_t>*>(file_.data() + kCounterOffset);
    }

    MappedFile file_;
    bool created_ = false;
};

}  // namespace keyauth
