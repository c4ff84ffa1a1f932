#include "keyauth/lmdb_registry.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "keyauth/commit_signals.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/files.hpp"
#include "keyauth/registry_reader.hpp"
#include "keyauth/writer_lock.hpp"
#include "legacy_upgrade.hpp"
#include "lmdb_registry_impl.hpp"
#include "registry_directory.hpp"
#include "walked_map_pages.hpp"

namespace keyauth {
namespace {

// Room for well over a million clients; the file is sparse, so this costs
// address space, not disk.
constexpr std::size_t kMapSize = std::size_t{8} << 30;
constexpr unsigned kMaxTables = 3;
// A fill's map handed back this often (LmdbRegistry::Impl::hand_back_map):
// a fault maps up to 2 MiB around it, so a few hundred puts map tens of MB.
constexpr std::size_t kPutsBetweenHandBacks = 512;
// A read's wait for writer.lock (OpenMode::to_publish): long enough for
// another writer's commit, short enough that no read, nor a console
// thread, waits on a writer holding it longer: the read then takes what
// is published.
constexpr long kReadsLockWaitMillis = 100;

bool exists(const std::string& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
}

Status open_tables(MDB_env* env, const std::string& dir, bool create, WriterEnvironment& into) {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env, nullptr, 0, &txn); rc != 0)
        return lmdb_error(rc, "registry " + dir);
    MdbTxnPtr setup(txn);
    const unsigned db_flags = create ? MDB_CREATE : 0;
    int rc = mdb_dbi_open(txn, kClientsDb, db_flags, &into.clients);
    if (rc == 0)
        rc = mdb_dbi_open(txn, kFingerprintsDb, db_flags, &into.fingerprints);
    if (rc == MDB_NOTFOUND)
        return make_error(Errc::not_found, "registry " + dir + " is empty (run keytool init)");
    // Made on first use: registries from before it have none.
    if (rc == 0)
        rc = mdb_dbi_open(txn, kMetaDb, MDB_CREATE, &into.meta);
    if (rc != 0)
        return lmdb_error(rc, "registry " + dir);
    if (int committed = mdb_txn_commit(setup.release()); committed != 0)
        return lmdb_error(committed, "registry " + dir);
    return {};
}

Status read_credentials(MDB_txn* txn, MDB_dbi clients, std::string_view id,
                        ClientCredentials& out) {
    // No registry holds such an id: never asked of LMDB (an empty key is
    // an error there, not an absence).
    if (!is_valid_client_id(id))
        return make_error(Errc::unknown_client, "unknown client");
    MDB_val key = mdb_value(id.data(), id.size());
    MDB_val value{};
    const int rc = mdb_get(txn, clients, &key, &value);
    if (rc == MDB_NOTFOUND)
        return make_error(Errc::unknown_client, "unknown client");
    if (rc != 0)
        return lmdb_error(rc, "reading client");
    if (!decode_credentials(as_view(value), out))
        return make_error(Errc::registry_corrupt, "registry record is corrupt");
    return {};
}

Result<std::optional<std::string>> read_meta(MDB_txn* txn, MDB_dbi meta, std::string_view key) {
    MDB_val k = mdb_value(key.data(), key.size());
    MDB_val v{};
    const int rc = mdb_get(txn, meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return std::optional<std::string>();
    if (rc != 0)
        return lmdb_error(rc, "reading registry metadata");
    return std::optional<std::string>(std::string(as_view(v)));
}

}  // namespace

std::string_view as_view(const MDB_val& v) {
    return {static_cast<const char*>(v.mv_data), v.mv_size};
}

std::uint64_t last_txnid(MDB_env* env) {
    MDB_envinfo info{};
    mdb_env_info(env, &info);
    return info.me_last_txnid;
}

Error lmdb_error(int rc, const std::string& doing) {
    Errc code = Errc::io_error;
    switch (rc) {
        case EACCES:
        case EPERM:
        case EROFS:
            code = Errc::permission_denied;
            break;
        case ENOENT:
            code = Errc::not_found;
            break;
        case MDB_INVALID:
        case MDB_CORRUPTED:
        case MDB_VERSION_MISMATCH:
        case MDB_PAGE_NOTFOUND:
        case MDB_INCOMPATIBLE:
            code = Errc::registry_corrupt;
            break;
        case MDB_MAP_FULL:
            code = Errc::registry_full;
            break;
        default:
            break;
    }
    return make_error(code, doing + ": " + mdb_strerror(rc));
}

// MDB_NOLOCK: writer.lock does what lock.mdb's writer mutex did.
// MDB_NORDAHEAD: a change reads a few pages far apart, each with the disk's
// whole read-ahead around it otherwise (walked_map_pages.hpp); a walk over
// every record asks for it back (WalkReadAhead).
constexpr unsigned kEnvironmentFlags = MDB_NOTLS | MDB_NOLOCK | MDB_NORDAHEAD;

namespace {

// Under the write lock: the environment is the data.mdb the directory
// names. A keyauth-sync rebuild exchanges the directory whole (under the
// old one's lock); a process that opened the old one must not write, or
// publish a lookup.idx into, the new one from it.
Status check_still_named(MDB_env* env, const RegistryLayout& layout) {
    int fd = -1;
    struct stat opened {};
    struct stat named {};
    if (mdb_env_get_fd(env, &fd) != 0 || fstat(fd, &opened) != 0 ||
        stat(layout.data_file().c_str(), &named) != 0 || opened.st_dev != named.st_dev ||
        opened.st_ino != named.st_ino) {
        return make_error(Errc::io_error, "registry " + layout.dir +
                                              " was replaced since it was opened (keyauth-sync "
                                              "rebuilt it): run the command again");
    }
    return {};
}

}  // namespace

// The writer's LMDB environment with its tables. MDB_NOLOCK: writer.lock
// does what lock.mdb's writer mutex did, and no server reads LMDB at all.
// Every commit is synced whole before lookup.idx names it: a power loss
// cannot take back a change the servers have seen.
Status LmdbRegistry::Impl::open_environment() {
    const std::string& dir = layout.dir;
    if (Status s = owner_may_write ? check_registry_ownership(dir)
                                   : check_registry_ownership_to_write(dir);
        !s)
        return s;
    const bool present = exists(layout.data_file());
    if (!present && mode != OpenMode::create)
        return check_file(dir, layout.data_file(), "data.mdb");
    auto lock = WriterLock::acquire(
        layout.writer_lock(), WriterLock::Scope::writes,
        mode == OpenMode::to_publish ? kReadsLockWaitMillis : WriterLock::kDefaultWaitMillis);
    if (!lock)
        return with_dir(dir, lock.error());
    if (present && exists(layout.legacy_lock_file())) {
        if (Status s = upgrade_legacy_registry(layout); !s)
            return s;
    }

    MDB_env* raw = nullptr;
    if (int rc = mdb_env_create(&raw); rc != 0)
        return lmdb_error(rc, "registry " + dir);
    lmdb.env.reset(raw);
    mdb_env_set_maxdbs(raw, kMaxTables);
    mdb_env_set_mapsize(raw, kMapSize);
    if (int rc = mdb_env_open(raw, dir.c_str(), kEnvironmentFlags, 0600); rc != 0)
        return lmdb_error(rc, "registry " + dir);
    if (Status s = check_still_named(raw, layout); !s)
        return s;
    // Readable by the group (keytool verify and list), never writable by it.
    int data_fd = -1;
    if (mdb_env_get_fd(raw, &data_fd) != 0 || fchmod(data_fd, 0640) != 0)
        return make_error(Errc::permission_denied,
                          layout.data_file() + ": " + std::strerror(errno));
    auto opened_sequence =
        CommitSequence::open_for_writing(layout.commit_sequence(), layout.data_file());
    if (!opened_sequence)
        return with_dir(dir, opened_sequence.error());
    sequence = std::move(*opened_sequence);
    // Only provisioning makes the tables; keytool's other commands find them.
    Status tables = open_tables(raw, dir, false, lmdb);
    if (!tables && tables.code() == Errc::not_found && mode == OpenMode::create)
        tables = open_tables(raw, dir, true, lmdb);
    if (!tables)
        return tables;
    if (Status s = upgrade_records(); !s)
        return s;
    return keep_index_current();
}

// LMDB keeps every page a write transaction dirtied, once written, in a
// list for later transactions, for the environment's life: after a load of
// a million clients (erase_all and every record in one transaction, as
// keyauth-sync's load and rebuild commit), ~300 MB of memory this process
// would hold to its end, beside the new lookup.idx being filled. A new
// environment over the same files frees them. The new one is opened
// before the old one is closed: if it cannot be, the old one serves on,
// only the memory is kept (the commit says so on stderr). Two environments
// over data.mdb at once hold no lock a close could drop (MDB_NOLOCK;
// writer.lock's is an OFD lock on its own file), and neither has a
// transaction open.
Status LmdbRegistry::Impl::reopen_environment() {
    MDB_env* raw = nullptr;
    if (int rc = mdb_env_create(&raw); rc != 0)
        return lmdb_error(rc, "registry " + layout.dir);
    WriterEnvironment fresh;
    fresh.env.reset(raw);
    mdb_env_set_maxdbs(raw, kMaxTables);
    mdb_env_set_mapsize(raw, kMapSize);
    if (int rc = mdb_env_open(raw, layout.dir.c_str(), kEnvironmentFlags, 0600); rc != 0)
        return lmdb_error(rc, "registry " + layout.dir);
    if (Status s = open_tables(raw, layout.dir, false, fresh); !s)
        return s;
    lmdb = std::move(fresh);  // the old environment closed, its pages freed
    filled_map = {};
    // Freed to malloc, not yet to the system: the pages were allocated one
    // by one, among the load's other allocations.
    malloc_trim(0);
    return {};
}

// A fill's puts copy the leaves they change from LMDB's map, and the
// fingerprints come in no order: every fault maps its neighbours too
// (walked_map_pages.cpp), so within one transaction of thousands of puts
// the whole of data.mdb would be mapped into this process (366 MB at a
// million clients). Handed back after each commit and every
// kPutsBetweenHandBacks puts (the pages stay in the page cache: the next
// touch maps them again).
void LmdbRegistry::Impl::hand_back_map() {
    if (filled_map.start == 0) {
        MDB_txn* raw = nullptr;
        if (mdb_txn_begin(lmdb.env.get(), nullptr, MDB_RDONLY, &raw) != 0)
            return;
        MdbTxnPtr reader(raw);
        filled_map = map_read_by(raw, lmdb.meta);
    }
    hand_back(filled_map);
}

Status LmdbRegistry::Impl::upgrade_records() {
    const std::string current = std::to_string(kRecordFormat);
    MDB_txn* raw = nullptr;
    // Read-only first: almost every open finds the records current.
    if (int rc = mdb_txn_begin(lmdb.env.get(), nullptr, MDB_RDONLY, &raw); rc != 0)
        return lmdb_error(rc, "registry " + layout.dir);
    MdbTxnPtr reader(raw);
    auto recorded = read_meta(raw, lmdb.meta, kRecordFormatMeta);
    reader.reset();
    if (!recorded)
        return recorded.error();
    const std::optional<std::string>& format = *recorded;
    if (format == current)
        return {};
    if (format && (format->empty() || format->size() > 3 ||
                   format->find_first_not_of("0123456789") != std::string::npos ||
                   std::stoi(*format) > kRecordFormat)) {
        return make_error(Errc::registry_corrupt,
                          "registry " + layout.dir + " holds records of format " + *format +
                              ", made by a newer keyauth: this one reads up to format " + current);
    }
    // Under writer.lock (taken by open_environment): nothing commits meanwhile.
    if (int rc = mdb_txn_begin(lmdb.env.get(), nullptr, 0, &raw); rc != 0)
        return lmdb_error(rc, "upgrading registry " + layout.dir);
    MdbTxnPtr txn(raw);
    MDB_cursor* raw_cursor = nullptr;
    if (int rc = mdb_cursor_open(raw, lmdb.clients, &raw_cursor); rc != 0)
        return lmdb_error(rc, "upgrading registry " + layout.dir);
    MdbCursorPtr cursor(raw_cursor);
    WalkReadAhead in_order(raw, lmdb.clients);
    MDB_val key{};
    MDB_val value{};
    int rc = mdb_cursor_get(raw_cursor, &key, &value, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(raw_cursor, &key, &value, MDB_NEXT)) {
        ClientCredentials credentials;
        if (!decode_credentials(as_view(value), credentials))
            return make_error(Errc::registry_corrupt, "registry record is corrupt");
        if (credentials_format(as_view(value)) == kRecordFormat)
            continue;
        auto encoded = encode_credentials(credentials);
        MDB_val rewritten = mdb_value(encoded.data(), encoded.size());
        // The key as found points into the page the put rewrites: a copy.
        const std::string id(as_view(key));
        MDB_val same_key = mdb_value(id.data(), id.size());
        if (int put = mdb_cursor_put(raw_cursor, &same_key, &rewritten, MDB_CURRENT); put != 0)
            return lmdb_error(put, "upgrading registry " + layout.dir);
    }
    if (rc != MDB_NOTFOUND)
        return lmdb_error(rc, "upgrading registry " + layout.dir);
    cursor.reset();
    MDB_val format_key = mdb_value(kRecordFormatMeta.data(), kRecordFormatMeta.size());
    MDB_val format_value = mdb_value(current.data(), current.size());
    if (int put = mdb_put(raw, lmdb.meta, &format_key, &format_value, 0); put != 0)
        return lmdb_error(put, "upgrading registry " + layout.dir);
    // The journal names ids, not formats: the next publication refills.
    MDB_val journal = mdb_value(IndexJournal::kMetaKey.data(), IndexJournal::kMetaKey.size());
    if (int gone = mdb_del(raw, lmdb.meta, &journal, nullptr); gone != 0 && gone != MDB_NOTFOUND)
        return lmdb_error(gone, "upgrading registry " + layout.dir);
    if (int committed = mdb_txn_commit(txn.release()); committed != 0)
        return lmdb_error(committed, "upgrading registry " + layout.dir);
    return {};
}

// keytool reads LMDB, the registry of record, under the write lock: nothing
// can commit meanwhile.
template <class Lookup>
Status LmdbRegistry::Impl::read_lmdb(Lookup&& lookup) {
    auto lock = WriterLock::acquire(layout.writer_lock());
    if (!lock)
        return with_dir(layout.dir, lock.error());
    if (Status s = check_still_named(lmdb.env.get(), layout); !s)
        return s;
    MDB_txn* raw = nullptr;
    if (int rc = mdb_txn_begin(lmdb.env.get(), nullptr, MDB_RDONLY, &raw); rc != 0)
        return lmdb_error(rc, "registry " + layout.dir);
    MdbTxnPtr txn(raw);
    return lookup(raw);
}

LmdbRegistry::LmdbRegistry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LmdbRegistry::~LmdbRegistry() = default;

void LmdbRegistry::set_walked_pages(WalkedPages walked) {
    impl_->walked_pages = walked;
}

void LmdbRegistry::retire_for_readers() {
    if (impl_->index.mapped())
        impl_->index.retire();
}

Result<std::unique_ptr<LmdbRegistry>> LmdbRegistry::open(std::string_view dir, OpenMode mode) {
    auto impl = std::make_unique<Impl>(dir, mode);
    if (Status s = impl->open_environment(); !s)
        return s.error();
    return std::unique_ptr<LmdbRegistry>(new LmdbRegistry(std::move(impl)));
}

bool may_write_registry(std::string_view dir) {
    const std::string path(dir);
    // access() alone lets root through anywhere: root reads another
    // owner's registry as the servers do, never as its writer.
    return access(path.c_str(), W_OK) == 0 && check_owner_may_write(path).ok();
}

namespace {

Result<std::unique_ptr<LocalRegistry>> open_as_servers_read(std::string_view dir) {
    auto reader = RegistryReader::open(dir);
    if (!reader)
        return reader.error();
    return std::unique_ptr<LocalRegistry>(std::move(*reader));
}

}  // namespace

Result<std::unique_ptr<LocalRegistry>> open_registry_to_read(std::string_view dir,
                                                             bool& all_published) {
    all_published = true;
    if (may_write_registry(dir)) {
        // Opened for what the opening publishes alone (keep_index_current,
        // under writer.lock, let go as the opening returns), then closed.
        // Another writer holding the lock publishes it itself.
        LmdbRegistry::Impl publisher(dir, OpenMode::to_publish);
        publisher.owner_may_write = true;
        if (Status published = publisher.open_environment(); !published) {
            if (published.code() != Errc::busy)
                return published.error();
            all_published = false;
        }
    }
    return open_as_servers_read(dir);
}

Status LmdbRegistry::find(std::string_view id, ClientCredentials& out) {
    if (id.empty() || id.size() > kMaxClientIdLength)
        return make_error(Errc::unknown_client, "unknown client");
    return impl_->read_lmdb(
        [&](MDB_txn* txn) { return read_credentials(txn, impl_->lmdb.clients, id, out); });
}

Status LmdbRegistry::find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                                         ClientCredentials& out) {
    return impl_->read_lmdb([&](MDB_txn* txn) -> Status {
        MDB_val key = mdb_value(fingerprint.bytes.data(), fingerprint.bytes.size());
        MDB_val value{};
        const int rc = mdb_get(txn, impl_->lmdb.fingerprints, &key, &value);
        if (rc == MDB_NOTFOUND)
            return make_error(Errc::unknown_client, "unknown certificate");
        if (rc != 0)
            return lmdb_error(rc, "reading certificate index");
        const std::string_view owner = as_view(value);
        if (!is_valid_client_id(owner))
            return make_error(Errc::registry_corrupt, "certificate index is corrupt");
        if (Status s = read_credentials(txn, impl_->lmdb.clients, owner, out); !s)
            return s;
        // The index and the record must agree; a stale entry is refused.
        if (!(out.certificate_fingerprint == fingerprint))
            return make_error(Errc::unknown_client, "unknown certificate");
        id.assign(owner);
        return {};
    });
}

Status LmdbRegistry::scan(bool backward, const std::function<void()>& start_over,
                          const ClientVisitor& visit) {
    return impl_->read_lmdb([&](MDB_txn* txn) -> Status {
        start_over();
        MDB_cursor* raw = nullptr;
        if (int rc = mdb_cursor_open(txn, impl_->lmdb.clients, &raw); rc != 0)
            return lmdb_error(rc, "listing clients");
        MdbCursorPtr cursor(raw);
        WalkReadAhead in_order(txn, impl_->lmdb.clients);
        MDB_val key{};
        MDB_val value{};
        const MDB_cursor_op step = backward ? MDB_PREV : MDB_NEXT;
        int rc = mdb_cursor_get(raw, &key, &value, backward ? MDB_LAST : MDB_FIRST);
        ClientCredentials credentials;
        const bool hand_back = impl_->walked_pages == WalkedPages::handed_back;
        WalkedMapPages walked(impl_->lmdb.env.get());
        for (; rc == 0; rc = mdb_cursor_get(raw, &key, &value, step)) {
            if (hand_back)
                walked.add(key, value);
            if (!decode_credentials(as_view(value), credentials))
                return make_error(Errc::registry_corrupt, "registry record is corrupt");
            if (!visit(as_view(key), credentials))
                return {};
        }
        if (rc != MDB_NOTFOUND)
            return lmdb_error(rc, "listing clients");
        return {};
    });
}

Result<std::size_t> LmdbRegistry::count() {
    auto summary = summarize({});
    if (!summary)
        return summary.error();
    return summary->clients;
}

Result<RegistrySummary> LmdbRegistry::summarize(const std::vector<std::string_view>& meta_keys) {
    RegistrySummary summary;
    Status read = impl_->read_lmdb([&](MDB_txn* txn) -> Status {
        MDB_stat stat{};
        if (int rc = mdb_stat(txn, impl_->lmdb.clients, &stat); rc != 0)
            return lmdb_error(rc, "counting clients");
        summary.clients = static_cast<std::size_t>(stat.ms_entries);
        summary.generation = mdb_txn_id(txn);
        for (std::string_view key : meta_keys) {
            auto value = read_meta(txn, impl_->lmdb.meta, key);
            if (!value)
                return value.error();
            summary.meta.push_back(std::move(*value));
        }
        return {};
    });
    if (!read)
        return read.error();
    return summary;
}

// Moves with every commit of LMDB, the registry of record.
std::uint64_t LmdbRegistry::generation() {
    return last_txnid(impl_->lmdb.env.get());
}

namespace {

// A commit that stands, with a cost the operator should hear of: one line
// on stderr, keyauth-sync's log, in its manner (UTC time, program name).
void say_memory_kept(const Error& why) {
    char when[32];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::fprintf(stderr,
                 "%s %s: the load is committed, but LMDB could not be opened anew after it (%s): "
                 "the environment the load wrote serves on, holding its pages in memory until "
                 "the next load or a restart\n",
                 when, program_invocation_short_name, why.message.c_str());
}

class LmdbWriter final : public RegistryWriter {
  public:
    LmdbWriter(WriterLock lock, MdbTxnPtr txn, LmdbRegistry::Impl& impl)
        : lock_(std::move(lock)), txn_(std::move(txn)), impl_(impl) {}

    Status find(std::string_view id, ClientCredentials& out) override {
        return read_credentials(txn_.get(), impl_.lmdb.clients, id, out);
    }

    Status put(const ClientRecord& record, bool replace) override {
        if (Status s = check_client_id(record.id); !s)
            return s;
        ClientCredentials old;
        Status existing = find(record.id, old);
        if (existing.ok() && !replace)
            return make_error(Errc::already_exists, "client " + record.id + " already exists");
        if (!existing.ok() && existing.code() != Errc::unknown_client)
            return existing;
        // The certificate first: one another client's record holds refuses
        // the put before anything is written.
        const Fingerprint& fingerprint = record.credentials.certificate_fingerprint;
        if (Status s = claim_fingerprint(fingerprint, record.id); !s)
            return s;
        if (existing.ok() && !(old.certificate_fingerprint == fingerprint)) {
            if (Status s = drop_fingerprint(old.certificate_fingerprint); !s)
                return s;
        }
        const auto encoded = encode_credentials(record.credentials);
        MDB_val key = mdb_value(record.id.data(), record.id.size());
        MDB_val value = mdb_value(encoded.data(), encoded.size());
        // After erase_all (a load or rebuild from etcd, in id order), each id
        // after the last: appended, LMDB fills the pages whole instead of
        // splitting them (5 % fewer pages at a million clients, every one
        // held in memory until the commit). An id out of order is refused
        // with MDB_KEYEXIST, nothing written, and put the ordinary way.
        int rc = MDB_KEYEXIST;
        if (everything_ || impl_.filling)
            rc = mdb_put(txn_.get(), impl_.lmdb.clients, &key, &value, MDB_APPEND);
        if (rc == MDB_KEYEXIST)
            rc = mdb_put(txn_.get(), impl_.lmdb.clients, &key, &value, 0);
        if (rc != 0)
            return lmdb_error(rc, "writing client " + record.id);
        changed(record.id);
        if (impl_.filling && impl_.filled_map.start != 0 && ++puts_ % kPutsBetweenHandBacks == 0)
            hand_back(impl_.filled_map);
        return {};
    }

    Result<std::optional<std::string>> fingerprint_owner(const Fingerprint& fingerprint) override {
        MDB_val key = mdb_value(fingerprint.bytes.data(), fingerprint.bytes.size());
        MDB_val value{};
        const int rc = mdb_get(txn_.get(), impl_.lmdb.fingerprints, &key, &value);
        if (rc == MDB_NOTFOUND)
            return std::optional<std::string>();
        if (rc != 0)
            return lmdb_error(rc, "reading certificate index");
        std::string owner(as_view(value));
        ClientCredentials held;
        Status read = read_credentials(txn_.get(), impl_.lmdb.clients, owner, held);
        if (!read && read.code() != Errc::unknown_client)
            return read.error();
        // An entry naming a client whose record no longer holds it is stale.
        if (!read || !(held.certificate_fingerprint == fingerprint))
            return std::optional<std::string>();
        return std::optional<std::string>(std::move(owner));
    }

    Status erase(std::string_view id) override {
        if (!is_valid_client_id(id))
            return make_error(Errc::unknown_client, "no client: the id is invalid");
        ClientCredentials old;
        if (Status s = find(id, old); !s) {
            if (s.code() == Errc::unknown_client)
                return make_error(Errc::unknown_client, "no client " + std::string(id));
            return s;
        }
        if (Status s = drop_fingerprint(old.certificate_fingerprint); !s)
            return s;
        MDB_val key = mdb_value(id.data(), id.size());
        if (int rc = mdb_del(txn_.get(), impl_.lmdb.clients, &key, nullptr); rc != 0)
            return lmdb_error(rc, "deleting client");
        changed(id);
        return {};
    }

    Status erase_all() override {
        for (MDB_dbi table : {impl_.lmdb.clients, impl_.lmdb.fingerprints}) {
            if (int rc = mdb_drop(txn_.get(), table, 0); rc != 0)
                return lmdb_error(rc, "emptying registry");
        }
        changed_.clear();
        everything_ = true;
        return {};
    }

    Status put_meta(std::string_view key, std::string_view value) override {
        MDB_val k = mdb_value(key.data(), key.size());
        MDB_val v = mdb_value(value.data(), value.size());
        if (int rc = mdb_put(txn_.get(), impl_.lmdb.meta, &k, &v, 0); rc != 0)
            return lmdb_error(rc, "writing registry metadata");
        return {};
    }

    Result<std::optional<std::string>> find_meta(std::string_view key) override {
        return read_meta(txn_.get(), impl_.lmdb.meta, key);
    }

    // LMDB first, durably, with the journal of what changed; then the copy
    // of lookup.idx the servers do not use, then one store publishes it.
    // Until that store the servers answer from the state before, at full
    // speed, whatever happens to this process.
    Status commit() override {
        if (!txn_)
            return make_error(Errc::io_error, "transaction already finished");
        auto previous = find_meta(IndexJournal::kMetaKey);
        if (!previous)
            return previous.error();
        IndexJournalEntry entry;
        entry.parent_txnid = mdb_txn_id(txn_.get()) - 1;
        // A fill's commits are published by finish_fill(), which refills.
        entry.everything = everything_ || impl_.filling;
        entry.ids = std::move(changed_);
        const IndexJournal journal =
            IndexJournal::decode(previous->value_or(std::string())).then(std::move(entry));
        if (Status s = put_meta(IndexJournal::kMetaKey, journal.encode()); !s)
            return s;
        if (impl_.filling) {
            if (int rc = mdb_txn_commit(txn_.release()); rc != 0)
                return lmdb_error(rc, "committing registry");
            if (everything_) {
                if (Status s = impl_.reopen_environment(); !s)
                    say_memory_kept(s.error());
            }
            impl_.hand_back_map();
            return {};
        }
        // A new index file, when one is needed, is made (its room allocated)
        // now: a full disk then fails the commit with nothing changed.
        auto room = impl_.room_for(journal, txn_.get());
        if (!room)
            return room.error();
        stop_point("before-commit");
        HeldSignals held;
        if (int rc = mdb_txn_commit(txn_.release()); rc != 0)
            return lmdb_error(rc, "committing registry");
        if (everything_) {
            stop_point("before-environment-reopened");
            if (Status s = impl_.reopen_environment(); !s)
                say_memory_kept(s.error());
        }
        note_committed_change();
        stop_point("lmdb-committed");
        if (Status s = impl_.publish_committed(journal, std::move(*room)); !s) {
            return make_error(Errc::not_published,
                              "the change is committed, but the servers still answer as before "
                              "it: " +
                                  s.error().message +
                                  " (the next keytool command as root publishes it)");
        }
        return {};
    }

  private:
    void changed(std::string_view id) {
        if (!everything_ && !impl_.filling)
            changed_.emplace_back(id);
    }

    // Indexes the certificate as `id`'s, unless another client's record
    // holds it (Errc::already_exists, nothing written); a stale entry is
    // replaced, `id`'s own written again. NOOVERWRITE first: a fill
    // searches the table once a client.
    Status claim_fingerprint(const Fingerprint& fingerprint, const std::string& id) {
        MDB_val key = mdb_value(fingerprint.bytes.data(), fingerprint.bytes.size());
        MDB_val owner = mdb_value(id.data(), id.size());
        int rc = mdb_put(txn_.get(), impl_.lmdb.fingerprints, &key, &owner, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST) {
            auto holder = fingerprint_owner(fingerprint);
            if (!holder)
                return holder.error();
            if (*holder && **holder != id)
                return make_error(Errc::already_exists,
                                  "the certificate of " + id + " is " + **holder + "'s");
            owner = mdb_value(id.data(), id.size());
            rc = mdb_put(txn_.get(), impl_.lmdb.fingerprints, &key, &owner, 0);
        }
        if (rc != 0)
            return lmdb_error(rc, "indexing certificate of " + id);
        return {};
    }

    Status drop_fingerprint(const Fingerprint& fingerprint) {
        MDB_val key = mdb_value(fingerprint.bytes.data(), fingerprint.bytes.size());
        const int rc = mdb_del(txn_.get(), impl_.lmdb.fingerprints, &key, nullptr);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return lmdb_error(rc, "updating certificate index");
        return {};
    }

    WriterLock lock_;  // declared first: released after the transaction ends
    MdbTxnPtr txn_;
    LmdbRegistry::Impl& impl_;
    std::vector<std::string> changed_;
    bool everything_ = false;
    std::size_t puts_ = 0;
};

}  // namespace

void LmdbRegistry::begin_fill() {
    impl_->filling = true;
}

Status LmdbRegistry::finish_fill() {
    impl_->filling = false;
    auto lock = WriterLock::acquire(impl_->layout.writer_lock());
    if (!lock)
        return with_dir(impl_->layout.dir, lock.error());
    // The pages the fill's transactions dirtied, kept by LMDB for the next
    // ones (a transaction's worth), freed before lookup.idx is filled.
    if (Status s = impl_->reopen_environment(); !s)
        say_memory_kept(s.error());
    impl_->hand_back_map();
    return impl_->keep_index_current();
}

Result<std::unique_ptr<RegistryWriter>> LmdbRegistry::begin_write() {
    auto lock = WriterLock::acquire(impl_->layout.writer_lock());
    if (!lock)
        return with_dir(impl_->layout.dir, lock.error());
    if (Status s = check_still_named(impl_->lmdb.env.get(), impl_->layout); !s)
        return s.error();
    // Another writer may have published, grown or replaced the index since
    // this process looked, or died before publishing: start from LMDB's
    // committed state, published (a fill's, at its end).
    if (!impl_->filling) {
        if (Status s = impl_->keep_index_current(); !s)
            return s.error();
    }
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(impl_->lmdb.env.get(), nullptr, 0, &txn); rc != 0)
        return lmdb_error(rc, "registry " + impl_->layout.dir);
    return std::unique_ptr<RegistryWriter>(
        new LmdbWriter(std::move(*lock), MdbTxnPtr(txn), *impl_));
}

}  // namespace keyauth
