// RAII owners for LMDB handles.
#pragma once

#include <lmdb.h>

#include <memory>
#include <string>

#include "keyauth/result.hpp"

namespace keyauth {

struct MdbEnvClose {
    void operator()(MDB_env* env) const { mdb_env_close(env); }
};
struct MdbTxnAbort {
    void operator()(MDB_txn* txn) const { mdb_txn_abort(txn); }
};
struct MdbCursorClose {
    void operator()(MDB_cursor* cursor) const { mdb_cursor_close(cursor); }
};
using MdbEnvPtr = std::unique_ptr<MDB_env, MdbEnvClose>;
using MdbTxnPtr = std::unique_ptr<MDB_txn, MdbTxnAbort>;
using MdbCursorPtr = std::unique_ptr<MDB_cursor, MdbCursorClose>;

inline MDB_val mdb_value(const void* data, std::size_t size) {
    return MDB_val{size, const_cast<void*>(data)};
}

// Maps an LMDB or errno code onto our errors, naming what was being done.
Error lmdb_error(int rc, const std::string& doing);

}  // namespace keyauth
