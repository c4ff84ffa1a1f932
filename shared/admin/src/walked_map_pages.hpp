// The pages of data.mdb a long read walk has touched through LMDB's map,
// handed back as it goes (issue 19): a listing's resident memory stays flat
// however large the registry.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <vector>

namespace keyauth {

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
