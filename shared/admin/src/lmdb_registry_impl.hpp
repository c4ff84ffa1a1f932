// LmdbRegistry's insides, shared by its files: the LMDB environment
// (lmdb_registry.cpp) and lookup.idx kept in step with it
// (index_maintenance.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "commit_sequence.hpp"
#include "walked_map_pages.hpp"
#include "index_journal.hpp"
#include "index_writer.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "keyauth/registry_layout.hpp"
#include "lmdb_handles.hpp"

namespace keyauth {

struct WriterEnvironment {
    MdbEnvPtr env;
    MDB_dbi clients = 0;
    MDB_dbi fingerprints = 0;
    MDB_dbi meta = 0;
};

inline constexpr const char* kClientsDb = "clients";
inline constexpr const char* kFingerprintsDb = "fingerprints";
inline constexpr const char* kMetaDb = "meta";  // never read by servers
// The format every record in clients has (absent: format 1, keyauth 0.1-0.3).
inline constexpr std::string_view kRecordFormatMeta = "records.format";

std::uint64_t last_txnid(MDB_env* env);
std::string_view as_view(const MDB_val& v);

struct LmdbRegistry::Impl {
    Impl(std::string_view dir, OpenMode mode) : layout{std::string(dir)}, mode(mode) {}

    RegistryLayout layout;
    OpenMode mode;
    // may_write_registry has just found the registry root's or the caller's
    // (open_registry_to_read): open_environment does not ask again.
    bool owner_may_write = false;
    WalkedPages walked_pages = WalkedPages::kept;
    CommitSequence sequence;
    IndexWriter index;
    WriterEnvironment lmdb;
    bool filling = false;  // begin_fill(): lookup.idx waits for finish_fill()
    MapSpan filled_map;    // found at a fill's first commit (hand_back_map)

    Status open_environment();
    // Under the write lock, no transaction open: a new environment over
    // the same files in place of this one (see its definition for why);
    // on failure this one stays, and the failure is returned.
    Status reopen_environment();
    // data.mdb's pages mapped into this process let go (a fill's); the map
    // is found with no transaction open, at the fill's first commit.
    void hand_back_map();
    // Under the write lock: every record in the current format, rewritten
    // in one transaction if an older keyauth wrote them; refuses a registry
    // whose records a newer keyauth wrote.
    Status upgrade_records();
    // keytool: runs lookup(txn) on LMDB under the write lock.
    template <class Lookup>
    Status read_lmdb(Lookup&& lookup);

    // Under the write lock. Makes sure the copy of lookup.idx the counter
    // publishes holds what LMDB holds (a writer that died, a power loss, an
    // older registry), publishing a repaired copy if not.
    Status keep_index_current();
    // Before a commit (txn: the write transaction): a new, allocated index
    // file if the one in place cannot take the commit (see index_takes).
    Result<std::optional<IndexWriter>> room_for(const IndexJournal& journal, MDB_txn* txn);
    // Brings the copy readers are not using to LMDB's committed state (by
    // the journal's ids where it can, else in a new file),
    // makes it durable, then publishes it with one store of the counter.
    Status publish_committed(const IndexJournal& journal, std::optional<IndexWriter> fresh);

  private:
    bool index_takes(const IndexJournal& journal, MDB_txn* txn, std::uint64_t clients) const;
    Result<IndexWriter> new_index_file(MDB_txn* txn);
    Status publish_new_file(IndexWriter fresh, MDB_txn* txn, std::uint64_t next);
};

}  // namespace keyauth
