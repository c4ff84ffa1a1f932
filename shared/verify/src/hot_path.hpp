// What an admitted HTTP request runs and reads on the verification cache's
// hit (the broker's token CONNECT shares most of it). Between two requests
// the kernel's network path evicts keyauth's code and data.
#pragma once

#include <cstddef>
#include <cstdint>

// The functions: in .text.hot, which the linker lays side by side, so that a
// request fetches them from adjacent lines of two pages instead of a line in
// each of nine (docs/BENCHMARKS.md, "Eighth pass for NGINX").
#define KEYAUTH_HOT_PATH [[gnu::hot]]

namespace keyauth {

// The data: the cache lines a hit reads before the mapped files, for a
// server to prefetch together at a request's start (otherwise each is found
// cold only once the one that points to it has arrived). Each 64-byte line
// a range touches, once; ranges past max are dropped.
class HotLines {
  public:
    static constexpr std::uintptr_t kLineBytes = 64;

    HotLines(const void** lines, std::size_t max) : lines_(lines), max_(max) {}

    void add(const void* at, std::size_t bytes) {
        const auto first = reinterpret_cast<std::uintptr_t>(at) & ~(kLineBytes - 1);
        const auto end = reinterpret_cast<std::uintptr_t>(at) + bytes;
        for (std::uintptr_t line = first; line < end; line += kLineBytes)
            add_line(reinterpret_cast<const void*>(line));
    }
    std::size_t count() const { return count_; }

  private:
    void add_line(const void* line) {
        for (std::size_t i = 0; i < count_; ++i) {
            if (lines_[i] == line)
                return;
        }
        if (count_ < max_)
            lines_[count_++] = line;
    }

    const void** lines_;
    std::size_t max_;
    std::size_t count_ = 0;
};

}  // namespace keyauth
