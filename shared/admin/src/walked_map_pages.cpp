#include "walked_map_pages.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <string>

namespace keyauth {
namespace {

// One read fault maps only pages of the 2 MiB span its page table covers
// (fault-around, a large folio of the page cache, a huge page): that span,
// not the page read, is what a record leaves mapped. A registry grown over
// time has its leaves scattered over the file.
constexpr std::uintptr_t kSpanBytes = std::uintptr_t{2} << 20;
// At most 8 MiB mapped by the walk between two drops.
constexpr std::size_t kSpansBetweenDrops = 4;

struct Mapping {
    std::uintptr_t start = 0;
    std::uintptr_t end = 0;
    bool read_only_shared = false;
};

// The mapping holding `address`, from /proc/self/maps: LMDB gives no map
// address (me_mapaddr is set only with MDB_FIXEDMAP).
Mapping mapping_holding(std::uintptr_t address) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        unsigned long start = 0;
        unsigned long end = 0;
        char perms[5] = {};
        if (std::sscanf(line.c_str(), "%lx-%lx %4s", &start, &end, perms) != 3)
            continue;
        if (start <= address && address < end)
            return {start, end, perms[0] == 'r' && perms[1] == '-' && perms[3] == 's'};
    }
    return {};
}

// The map `txn` reads `table` through (none: a write transaction's own
// page, not the map, or an empty table).
Mapping map_of(MDB_txn* txn, MDB_dbi table) {
    MDB_cursor* cursor = nullptr;
    if (mdb_cursor_open(txn, table, &cursor) != 0)
        return {};
    MDB_val key{};
    MDB_val value{};
    const int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
    mdb_cursor_close(cursor);
    if (rc != 0)
        return {};
    const Mapping map = mapping_holding(reinterpret_cast<std::uintptr_t>(key.mv_data));
    return map.read_only_shared ? map : Mapping{};
}

}  // namespace

MapSpan map_read_by(MDB_txn* txn, MDB_dbi table) {
    const Mapping map = map_of(txn, table);
    return {map.start, map.end};
}

void hand_back(const MapSpan& map) {
    if (map.start != 0)
        madvise(reinterpret_cast<void*>(map.start), map.end - map.start, MADV_DONTNEED);
}

WalkReadAhead::WalkReadAhead(MDB_txn* txn, MDB_dbi table) {
    const Mapping map = map_of(txn, table);
    if (map.start == 0)
        return;
    if (madvise(reinterpret_cast<void*>(map.start), map.end - map.start, MADV_NORMAL) != 0)
        return;
    map_start_ = map.start;
    map_end_ = map.end;
}

WalkReadAhead::~WalkReadAhead() {
    if (map_start_ != 0)
        madvise(reinterpret_cast<void*>(map_start_), map_end_ - map_start_, MADV_RANDOM);
}

// Only a read-only map is ever dropped: with MDB_WRITEMAP it would hold a
// write transaction's pages.
WalkedMapPages::WalkedMapPages(MDB_env* env) {
    unsigned flags = 0;
    droppable_ = mdb_env_get_flags(env, &flags) == 0 && (flags & MDB_WRITEMAP) == 0;
}

void WalkedMapPages::add(const MDB_val& key, const MDB_val& value) {
    if (!droppable_)
        return;
    note(key);
    note(value);
    if (spans_.size() < kSpansBetweenDrops)
        return;
    // Looked up only now: a walk of a few records never reads it.
    if (map_end_ == 0) {
        const Mapping map = mapping_holding(reinterpret_cast<std::uintptr_t>(key.mv_data));
        droppable_ = map.read_only_shared;
        map_start_ = map.start;
        map_end_ = map.end;
    }
    if (droppable_)
        drop();
}

void WalkedMapPages::note(const MDB_val& bytes) {
    const auto start = reinterpret_cast<std::uintptr_t>(bytes.mv_data);
    // A large value (an overflow page run) may cross spans.
    const std::uintptr_t end = start + std::max<std::size_t>(bytes.mv_size, 1);
    for (std::uintptr_t span = start & ~(kSpanBytes - 1); span < end; span += kSpanBytes) {
        if (spans_.empty() || spans_.back() != span)
            spans_.push_back(span);
    }
}

// MADV_DONTNEED on a read-only shared file map only unmaps: the pages stay
// in the page cache, and the cursor's next touch faults them back in, the
// same bytes: LMDB never rewrites a page a live read transaction can see.
void WalkedMapPages::drop() {
    std::sort(spans_.begin(), spans_.end());
    spans_.erase(std::unique(spans_.begin(), spans_.end()), spans_.end());
    // Neighbouring spans (a registry laid out in id order) in one call.
    for (std::size_t first = 0; first < spans_.size();) {
        std::size_t end = first + 1;
        while (end < spans_.size() && spans_[end] == spans_[end - 1] + kSpanBytes)
            ++end;
        // Spans are aligned, the map only to a page: never past its ends,
        // where other memory lies.
        const std::uintptr_t from = std::max(spans_[first], map_start_);
        const std::uintptr_t to = std::min(spans_[end - 1] + kSpanBytes, map_end_);
        // A refusal costs only memory: walk on, keeping the pages.
        if (from < to && madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED) != 0)
            droppable_ = false;
        first = end;
    }
    spans_.clear();
}

}  // namespace keyauth
