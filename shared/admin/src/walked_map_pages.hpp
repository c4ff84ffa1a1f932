// The pages of data.mdb a long read walk has touched through LMDB's map,
// handed back as it goes (issue 19): a listing's resident memory stays flat
// however large the registry.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace keyauth {

// LMDB's map is opened MDB_NORDAHEAD (MADV_RANDOM, lmdb_registry.cpp): a
// change reads a handful of pages far apart, and without it each page not
// in memory is read with the disk's whole read-ahead around it (8 MiB on
// the benchmark machine: 124 MB a gen at 10^7, docs/BENCHMARKS.md). A walk
// over every record (list, a new lookup.idx, a records upgrade) reads in
// order and asks for read-ahead back while it runs.
class WalkReadAhead {
  public:
    // table: what the walk reads, in txn; its first record shows where the
    // map is (LMDB gives no map address without MDB_FIXEDMAP).
    WalkReadAhead(MDB_txn* txn, MDB_dbi table);
    ~WalkReadAhead();
    WalkReadAhead(const WalkReadAhead&) = delete;
    WalkReadAhead& operator=(const WalkReadAhead&) = delete;

  private:
    std::uintptr_t map_start_ = 0;
    std::uintptr_t map_end_ = 0;
};

// LMDB's read-only map, as found through a read transaction `txn` reading
// `table` (none: an empty table, or a map that is not read-only).
struct MapSpan {
    std::uintptr_t start = 0;
    std::uintptr_t end = 0;
};
MapSpan map_read_by(MDB_txn* txn, MDB_dbi table);

// Every page of `map` handed back (as WalkedMapPages does, all at once): for
// a writer whose changes copy pages they read through the map. Safe with a
// write transaction open: its own pages are not in the map, and LMDB
// rewrites no page of the map before it commits.
void hand_back(const MapSpan& map);

class WalkedMapPages {
  public:
    explicit WalkedMapPages(MDB_env* env);

    // A record a read transaction's cursor just returned: in a read
    // transaction, its key and value point into the map.
    void add(const MDB_val& key, const MDB_val& value);

  private:
    void note(const MDB_val& bytes);
    void drop();

    bool droppable_ = false;
    std::uintptr_t map_start_ = 0;  // found at the first drop
    std::uintptr_t map_end_ = 0;
    std::vector<std::uintptr_t> spans_;  // walked since the last drop, repeats possible
};

}  // namespace keyauth
