// lookup.idx kept in step with LMDB, published without ever making a reader
// wait: see index_file.hpp and docs/ARCHITECTURE.md, "Readers that never
// wait".
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "keyauth/commit_signals.hpp"
#include "keyauth/client_id.hpp"
#include "lmdb_registry_impl.hpp"
#include "registry_directory.hpp"
#include "walked_map_pages.hpp"

namespace keyauth {
namespace {

Result<std::uint64_t> clients_in(MDB_txn* txn, MDB_dbi clients) {
    MDB_stat stat{};
    if (int rc = mdb_stat(txn, clients, &stat); rc != 0)
        return lmdb_error(rc, "counting clients");
    return static_cast<std::uint64_t>(stat.ms_entries);
}

IndexJournal read_journal(MDB_txn* txn, MDB_dbi meta) {
    MDB_val key = mdb_value(IndexJournal::kMetaKey.data(), IndexJournal::kMetaKey.size());
    MDB_val value{};
    if (mdb_get(txn, meta, &key, &value) != 0)
        return IndexJournal{};  // none, or unreadable: a refill
    return IndexJournal::decode(as_view(value));
}

// What a new file must hold: how many clients, and their records' bytes.
struct IndexContents {
    std::uint64_t clients = 0;
    std::uint64_t record_bytes = 0;
};

// Walks every committed client: into visit(id, credentials), strictly;
// with `walked`, the map's pages handed back as it goes (a read
// transaction's: a write transaction's own pages are not in the map).
template <class Visit>
Status for_each_client(MDB_txn* txn, MDB_dbi clients, Visit&& visit,
                       WalkedMapPages* walked = nullptr) {
    MDB_cursor* raw = nullptr;
    if (int rc = mdb_cursor_open(txn, clients, &raw); rc != 0)
        return lmdb_error(rc, "indexing clients");
    MdbCursorPtr cursor(raw);
    WalkReadAhead in_order(txn, clients);
    MDB_val key{};
    MDB_val value{};
    int rc = mdb_cursor_get(raw, &key, &value, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(raw, &key, &value, MDB_NEXT)) {
        if (walked)
            walked->add(key, value);
        ClientCredentials credentials;
        if (!is_valid_client_id(as_view(key)) || !decode_credentials(as_view(value), credentials))
            return make_error(Errc::registry_corrupt, "registry record is corrupt");
        if (Status s = visit(as_view(key), credentials); !s)
            return s;
    }
    if (rc != MDB_NOTFOUND)
        return lmdb_error(rc, "indexing clients");
    return {};
}

// The map's pages handed back as the walk goes, as fill() does: after a
// fill (LmdbRegistry::begin_fill) the whole registry is read through the
// map, not from a write transaction's pages.
Result<IndexContents> contents_of(MDB_env* env, MDB_txn* txn, MDB_dbi clients) {
    IndexContents contents;
    WalkedMapPages walked(env);
    Status counted = for_each_client(
        txn, clients,
        [&](std::string_view id, const ClientCredentials& c) {
            ++contents.clients;
            contents.record_bytes += index_file::record_bytes(id, c);
            return Status{};
        },
        &walked);
    if (!counted)
        return counted.error();
    return contents;
}

// Every committed client into a copy of a new file, read through a read
// transaction (after the commit): data.mdb's pages are handed back as the
// walk goes, as the new file's are (IndexWriter), so that a million
// clients' refill does not leave both files resident in this process.
Status fill(IndexWriter& index, unsigned copy, MDB_env* env, MDB_txn* txn, MDB_dbi clients) {
    WalkedMapPages walked(env);
    return for_each_client(
        txn, clients,
        [&](std::string_view id, const ClientCredentials& c) { return index.put(copy, id, c); },
        &walked);
}

// The copy's entries for these ids made what LMDB says now. Removals
// first: the copy then never holds more than before or after the change,
// both within the load limit fits() checked (in the journal's order, an
// addition sorted before a removal could fill the table).
Status apply(IndexWriter& index, unsigned copy, MDB_txn* txn, MDB_dbi clients,
             const std::vector<std::string>& ids) {
    std::vector<std::pair<const std::string*, ClientCredentials>> kept;
    kept.reserve(ids.size());
    for (const std::string& id : ids) {
        MDB_val key = mdb_value(id.data(), id.size());
        MDB_val value{};
        const int rc = mdb_get(txn, clients, &key, &value);
        if (rc == MDB_NOTFOUND) {
            if (Status s = index.erase(copy, id); !s)
                return s;
            continue;
        }
        if (rc != 0)
            return lmdb_error(rc, "indexing client " + id);
        kept.emplace_back(&id, ClientCredentials{});
        if (!decode_credentials(as_view(value), kept.back().second))
            return make_error(Errc::registry_corrupt, "registry record is corrupt");
    }
    for (const auto& [id, credentials] : kept) {
        if (Status s = index.put(copy, *id, credentials); !s)
            return s;
    }
    return {};
}

}  // namespace

// The index must hold what LMDB holds, published: not so if a writer died
// before publishing, if the file is missing (an older registry) or unusable,
// if commit.seq was just made (the index beside it was published by another
// counter), or after a power loss that kept LMDB's commit but not the
// index's. Whatever file is at the path is mapped first, so that a new file
// retires it for the readers.
Status LmdbRegistry::Impl::keep_index_current() {
    // A new file a writer made and died before renaming in: nobody's.
    unlink(IndexWriter::staged_path(layout.lookup_index()).c_str());
    FileIdentity on_disk;
    const bool ours = index.mapped() && identify(layout.lookup_index(), on_disk) &&
                      on_disk == FileIdentity{index.device(), index.inode()};
    if (!ours) {
        auto reopened = IndexWriter::open(layout.lookup_index());
        index = reopened ? std::move(*reopened) : IndexWriter();
    }
    const std::uint64_t version = sequence.load();
    const unsigned copy = version & 1;
    if (index.mapped() && !sequence.created() && version != 0 && index.version(copy) == version &&
        index.lmdb_txnid(copy) == last_txnid(lmdb.env.get())) {
        return {};
    }
    MDB_txn* raw = nullptr;
    if (int rc = mdb_txn_begin(lmdb.env.get(), nullptr, MDB_RDONLY, &raw); rc != 0)
        return lmdb_error(rc, "registry " + layout.dir);
    IndexJournal journal = read_journal(raw, lmdb.meta);
    mdb_txn_abort(raw);
    return publish_committed(journal, std::nullopt);
}

Result<IndexWriter> LmdbRegistry::Impl::new_index_file(MDB_txn* txn) {
    struct stat data {};
    if (::stat(layout.data_file().c_str(), &data) != 0)
        return make_error(Errc::io_error, layout.data_file() + ": " + std::strerror(errno));
    auto contents = contents_of(lmdb.env.get(), txn, lmdb.clients);
    if (!contents)
        return contents.error();
    auto fresh = IndexWriter::create(layout.lookup_index(), contents->clients,
                                     contents->record_bytes, data.st_gid);
    if (!fresh)
        return with_dir(layout.dir, fresh.error());
    return fresh;
}

// The file in place takes the next commit if it is current (not an older
// registry's, nor beside a new counter), the journal names what changed
// since the copy to change was published, and the tables and heap have
// room for it. Otherwise a new file, which also compacts the heap.
bool LmdbRegistry::Impl::index_takes(const IndexJournal& journal, MDB_txn* txn,
                                     std::uint64_t clients) const {
    if (!index.mapped() || sequence.created())
        return false;
    const unsigned copy = (sequence.load() + 1) & 1;
    const auto ids = journal.changes(index.lmdb_txnid(copy), mdb_txn_id(txn));
    return ids && index.fits(clients, ids->size());
}

Result<std::optional<IndexWriter>> LmdbRegistry::Impl::room_for(const IndexJournal& journal,
                                                                MDB_txn* txn) {
    auto clients = clients_in(txn, lmdb.clients);
    if (!clients)
        return clients.error();
    if (index_takes(journal, txn, *clients))
        return std::optional<IndexWriter>();
    auto fresh = new_index_file(txn);
    if (!fresh)
        return fresh.error();
    return std::optional<IndexWriter>(std::move(*fresh));
}

Status LmdbRegistry::Impl::publish_committed(const IndexJournal& journal,
                                             std::optional<IndexWriter> fresh) {
    MDB_txn* raw = nullptr;
    if (int rc = mdb_txn_begin(lmdb.env.get(), nullptr, MDB_RDONLY, &raw); rc != 0)
        return lmdb_error(rc, "registry " + layout.dir);
    MdbTxnPtr txn(raw);
    const std::uint64_t txnid = mdb_txn_id(raw);
    const std::uint64_t next = sequence.load() + 1;
    auto clients = clients_in(raw, lmdb.clients);
    if (!clients)
        return clients.error();
    if (!fresh && !index_takes(journal, raw, *clients)) {
        auto made = new_index_file(raw);
        if (!made)
            return made.error();
        fresh = std::move(*made);
    }
    if (fresh)
        return publish_new_file(std::move(*fresh), raw, next);

    const unsigned copy = next & 1;
    const auto ids = journal.changes(index.lmdb_txnid(copy), txnid);
    if (Status s = index.begin_change(copy); !s)
        return with_dir(layout.dir, s.error());
    stop_point("copy-marked");
    if (Status changed = apply(index, copy, raw, lmdb.clients, *ids); !changed) {
        if (changed.code() != Errc::registry_corrupt && changed.code() != Errc::io_error)
            return changed;
        // A copy this writer cannot make sense of: a new file instead.
        auto made = new_index_file(raw);
        if (!made)
            return made.error();
        return publish_new_file(std::move(*made), raw, next);
    }
    stop_point("copy-changed");
    if (Status s = index.finish_change(copy, txnid, next); !s)
        return with_dir(layout.dir, s.error());
    stop_point("copy-durable");
    if (Status s = sequence.publish(next); !s)
        return with_dir(layout.dir, s.error());
    stop_point("published");
    return {};
}

// Both copies filled alike: the one the next counter value names, and the
// one the current value names (so that a reader that opens the new file
// before the counter moves reads the new state, not an empty one). The new
// file is renamed in, the old one retired, then the counter moves.
Status LmdbRegistry::Impl::publish_new_file(IndexWriter fresh, MDB_txn* txn, std::uint64_t next) {
    const std::uint64_t txnid = mdb_txn_id(txn);
    const unsigned copy = next & 1;
    if (Status s = fill(fresh, copy, lmdb.env.get(), txn, lmdb.clients); !s)
        return with_dir(layout.dir, s.error());
    fresh.copy_tables(copy, copy ^ 1);
    if (Status s = fresh.finish_change(copy ^ 1, txnid, next - 1); !s)
        return with_dir(layout.dir, s.error());
    if (Status s = fresh.finish_change(copy, txnid, next); !s)
        return with_dir(layout.dir, s.error());
    if (Status s = fresh.publish(layout.lookup_index()); !s)
        return with_dir(layout.dir, s.error());
    stop_point("new-file-in-place");
    if (index.mapped())
        index.retire();  // readers still on it reopen
    index = std::move(fresh);
    if (Status s = sequence.publish(next); !s)
        return with_dir(layout.dir, s.error());
    stop_point("published");
    return {};
}

}  // namespace keyauth
