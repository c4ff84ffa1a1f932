#include "keyauth/registry.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "commit_sequence.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/files.hpp"
#include "keyauth/registry_layout.hpp"
#include "lmdb_handles.hpp"
#include "lookup_cache.hpp"
#include "lookup_index.hpp"
#include "writer_lock.hpp"

namespace keyauth {
namespace {

// Room for well over a million clients; the file is sparse, so this costs
// address space, not disk.
constexpr std::size_t kMapSize = std::size_t{8} << 30;
constexpr const char* kClientsDb = "clients";
constexpr const char* kFingerprintsDb = "fingerprints";
constexpr const char* kMetaDb = "meta";  // writers only
constexpr unsigned kMaxTables = 3;
// How often a reader looks for a registry replaced on disk.
constexpr long kReplacementCheckMillis = 200;
// How long a reader waits for a commit in progress before it fails closed.
// A commit takes milliseconds; only a writer that died mid-commit (the next
// writer repairs that) or a stalled disk holds readers this long.
constexpr long kReaderWaitMillis = 1000;
constexpr const char* kStuckWrite =
    "a commit has been in progress for over 1 s (if no keytool is running, one died "
    "mid-commit: run any keytool command as root, e.g. keytool list, to repair it)";

std::int64_t monotonic_millis() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string_view as_view(const MDB_val& v) {
    return {static_cast<const char*>(v.mv_data), v.mv_size};
}

struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const FileIdentity& o) const { return device == o.device && inode == o.inode; }
};

bool identify(const std::string& path, FileIdentity& out) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0)
        return false;
    out = FileIdentity{st.st_dev, st.st_ino};
    return true;
}

std::uint64_t last_txnid(MDB_env* env) {
    MDB_envinfo info{};
    mdb_env_info(env, &info);
    return info.me_last_txnid;
}

bool exists(const std::string& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
}

Status check_directory(const std::string& dir) {
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT) {
            return make_error(Errc::not_found,
                              "registry " + dir + " does not exist (run keytool init)");
        }
        return make_error(err == EACCES ? Errc::permission_denied : Errc::not_found,
                          "registry " + dir + ": " + std::strerror(err));
    }
    if (!S_ISDIR(st.st_mode)) {
        return make_error(Errc::invalid_argument, "registry " + dir + " is not a directory");
    }
    return {};
}

Status check_file(const std::string& dir, const std::string& path, const char* name) {
    if (access(path.c_str(), F_OK) == 0)
        return {};
    if (errno == ENOENT) {
        return make_error(Errc::not_found,
                          "registry " + dir + " has no " + name + " (run keytool init)");
    }
    return make_error(errno == EACCES ? Errc::permission_denied : Errc::io_error,
                      "registry " + dir + ": " + std::strerror(errno));
}

// As sshd's StrictModes: a registry whose directory or files someone other
// than its owner may write is no registry to trust (they could swap in an
// index or a counter of their own). Judged by readers and writers alike.
Status check_only_owner_writes(const RegistryLayout& layout) {
    struct stat dir {};
    if (stat(layout.dir.c_str(), &dir) != 0)
        return file_error(errno, layout.dir);
    if (dir.st_mode & (S_IWGRP | S_IWOTH)) {
        return make_error(Errc::permission_denied,
                          "registry " + layout.dir +
                              " is writable by its group or others: run chmod go-w " + layout.dir);
    }
    for (const std::string& path :
         {layout.data_file(), layout.lookup_index(), layout.commit_sequence()}) {
        struct stat file {};
        if (lstat(path.c_str(), &file) != 0)
            continue;  // judged where it is needed
        if (!S_ISREG(file.st_mode) || (file.st_mode & (S_IWGRP | S_IWOTH)) ||
            file.st_uid != dir.st_uid) {
            return make_error(Errc::permission_denied,
                              "registry " + layout.dir + ": " + path +
                                  " is not a regular file that only the registry's owner "
                                  "may write");
        }
    }
    return {};
}

void pause_briefly(int round) {
    if (round < 16) {
        sched_yield();
        return;
    }
    const timespec pause{0, 100 * 1000};
    nanosleep(&pause, nullptr);
}

// A deadline that costs nothing until someone has to wait.
class WaitDeadline {
  public:
    bool passed() {
        const std::int64_t now = monotonic_millis();
        if (at_ == 0)
            at_ = now + kReaderWaitMillis;
        return now >= at_;
    }

  private:
    std::int64_t at_ = 0;
};

Error with_dir(const std::string& dir, const Error& error) {
    return make_error(error.code, "registry " + dir + ": " + error.message);
}

}  // namespace

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

// The writer's LMDB environment with its tables. Opened with MDB_NOLOCK:
// writer.lock does what lock.mdb's writer mutex did, and no server reads
// LMDB at all.
struct WriterEnvironment {
    MdbEnvPtr env;
    MDB_dbi clients = 0;
    MDB_dbi fingerprints = 0;
};

struct LmdbRegistry::Impl {
    RegistryLayout layout;
    OpenMode mode = OpenMode::read_only;
    bool open = false;
    CommitSequence sequence;
    // Servers read it; the writer keeps it in step with LMDB.
    LookupIndex index;
    std::optional<WriterEnvironment> lmdb;  // writers only
    std::int64_t next_check_millis = 0;
    std::int64_t stuck_until_millis = 0;  // a commit seen stuck: refuse at once
    std::uint64_t reopen_count = 0;
    LookupCache cache;  // read-only mode only: servers answering many lookups

    Status open_files();
    Status open_reader();
    Status open_writer();
    Status ensure_current();
    // Waits for a counter with no commit in progress.
    Status settled(std::uint64_t& counter, WaitDeadline& deadline);
    // Readers: runs lookup(index) on one committed state; tag names it.
    template <class Lookup>
    Status read_index(std::uint64_t& tag, LookupIndex::Found& found, Lookup&& lookup);
    // keytool: runs lookup(txn) on LMDB under the write lock.
    template <class Lookup>
    Status read_lmdb(Lookup&& lookup);
    // Writer, under the write lock: lookup.idx in step with LMDB.
    Status keep_index_current();
    Result<LookupIndex> prepare_index(std::optional<MDB_txn*> txn);
    Status fill_and_publish(LookupIndex fresh);
    // Unique per committed state and per reopened registry; never 0.
    std::uint64_t tag_of(std::uint64_t counter) const {
        return ((reopen_count + 1) << 48) ^ counter;
    }
};

Status check_registry_directory(std::string_view dir_view) {
    const RegistryLayout layout{std::string(dir_view)};
    if (Status s = check_directory(layout.dir); !s)
        return s;
    if (Status s = check_only_owner_writes(layout); !s)
        return s;
    if (Status s = check_file(layout.dir, layout.data_file(), "data.mdb"); !s)
        return s;
    if (!exists(layout.lookup_index())) {
        return make_error(Errc::not_found,
                          "registry " + layout.dir +
                              " was made by an older keyauth and has no lookup.idx: run any "
                              "keytool command on it as root once (e.g. keytool list) to "
                              "upgrade it");
    }
    if (Status s = check_file(layout.dir, layout.lookup_index(), "lookup.idx"); !s)
        return s;
    return check_file(layout.dir, layout.commit_sequence(), "commit.seq");
}

Status LmdbRegistry::Impl::open_files() {
    open = false;
    Status opened = mode == OpenMode::read_only ? open_reader() : open_writer();
    open = opened.ok();
    return opened;
}

// Servers open two files read-only: the counter, then the index. Neither
// is LMDB's.
Status LmdbRegistry::Impl::open_reader() {
    const std::string& dir = layout.dir;
    if (Status s = check_registry_directory(dir); !s)
        return s;
    auto opened_sequence = CommitSequence::open_for_reading(layout.commit_sequence());
    if (!opened_sequence)
        return with_dir(dir, opened_sequence.error());
    auto opened_index = LookupIndex::open_for_reading(layout.lookup_index());
    if (!opened_index)
        return with_dir(dir, opened_index.error());
    // The counter must be the one that guards this index: a registry
    // swapped in meanwhile brings its own.
    FileIdentity now;
    if (!identify(layout.commit_sequence(), now) ||
        !(now == FileIdentity{opened_sequence->device(), opened_sequence->inode()})) {
        return make_error(Errc::not_found, "registry " + dir + " changed while opening");
    }
    sequence = std::move(*opened_sequence);
    index = std::move(*opened_index);
    return {};
}

namespace {

Status open_tables(MDB_env* env, const std::string& dir, bool create, WriterEnvironment& into,
                   CommitSequence& sequence) {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env, nullptr, create ? 0 : MDB_RDONLY, &txn); rc != 0) {
        return lmdb_error(rc, "registry " + dir);
    }
    MdbTxnPtr setup(txn);
    const unsigned db_flags = create ? MDB_CREATE : 0;
    int rc = mdb_dbi_open(txn, kClientsDb, db_flags, &into.clients);
    if (rc == 0)
        rc = mdb_dbi_open(txn, kFingerprintsDb, db_flags, &into.fingerprints);
    if (rc == MDB_NOTFOUND) {
        return make_error(Errc::not_found, "registry " + dir + " is empty (run keytool init)");
    }
    if (rc != 0)
        return lmdb_error(rc, "registry " + dir);
    if (create)
        sequence.begin_commit();
    rc = mdb_txn_commit(setup.release());
    if (create)
        sequence.end_commit();
    if (rc != 0)
        return lmdb_error(rc, "registry " + dir);
    return {};
}

Status read_credentials(MDB_txn* txn, MDB_dbi clients, std::string_view id,
                        ClientCredentials& out) {
    MDB_val key = mdb_value(id.data(), id.size());
    MDB_val value{};
    const int rc = mdb_get(txn, clients, &key, &value);
    if (rc == MDB_NOTFOUND)
        return make_error(Errc::unknown_client, "unknown client");
    if (rc != 0)
        return lmdb_error(rc, "reading client");
    if (!decode_credentials(as_view(value), out)) {
        return make_error(Errc::registry_corrupt, "registry record is corrupt");
    }
    return {};
}

// Registries made by keyauth 0.1 had LMDB's lock.mdb, writable by the
// servers. The data file is copied to a new inode, so that a server still
// running 0.1 reopens it, finds no lock file it may use and fails closed,
// instead of reading a snapshot the lock file no longer tracks.
Status upgrade_legacy_registry(const RegistryLayout& layout) {
    const std::string& dir = layout.dir;
    const std::string staged = layout.data_file() + ".upgrade";
    struct stat data {};
    if (stat(layout.data_file().c_str(), &data) != 0)
        return make_error(Errc::io_error, layout.data_file() + ": " + std::strerror(errno));
    unlink(staged.c_str());  // from an upgrade that died
    MDB_env* raw = nullptr;
    if (int rc = mdb_env_create(&raw); rc != 0)
        return lmdb_error(rc, "registry " + dir);
    MdbEnvPtr env(raw);
    mdb_env_set_maxdbs(raw, kMaxTables);
    if (int rc = mdb_env_open(raw, dir.c_str(), MDB_NOTLS | MDB_RDONLY, 0600); rc != 0)
        return lmdb_error(rc, "upgrading registry " + dir);
    UniqueFd fd(open(staged.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid())
        return make_error(Errc::io_error, staged + ": " + std::strerror(errno));
    int rc = mdb_env_copyfd2(raw, fd.get(), MDB_CP_COMPACT);
    env.reset();
    if (rc == 0 && (fchown(fd.get(), static_cast<uid_t>(-1), data.st_gid) != 0 ||
                    fchmod(fd.get(), 0640) != 0 || fsync(fd.get()) != 0)) {
        rc = errno;
    }
    if (rc == 0 && rename(staged.c_str(), layout.data_file().c_str()) != 0)
        rc = errno;
    if (rc != 0) {
        unlink(staged.c_str());
        return lmdb_error(rc, "upgrading registry " + dir);
    }
    auto sequence = CommitSequence::open_for_writing(layout.commit_sequence(), layout.data_file());
    if (!sequence)
        return sequence.error();
    if (unlink(layout.legacy_lock_file().c_str()) != 0 && errno != ENOENT)
        return make_error(Errc::io_error, layout.legacy_lock_file() + ": " + std::strerror(errno));
    return fsync_directory(dir);
}

}  // namespace

Status LmdbRegistry::Impl::open_writer() {
    const std::string& dir = layout.dir;
    if (Status s = check_directory(dir); !s)
        return s;
    if (Status s = check_only_owner_writes(layout); !s)
        return s;
    const bool present = exists(layout.data_file());
    if (!present && mode != OpenMode::create)
        return check_file(dir, layout.data_file(), "data.mdb");
    auto lock = WriterLock::acquire(layout.writer_lock());
    if (!lock)
        return with_dir(dir, lock.error());
    if (present && exists(layout.legacy_lock_file())) {
        if (Status s = upgrade_legacy_registry(layout); !s)
            return s;
    }

    MDB_env* raw = nullptr;
    if (int rc = mdb_env_create(&raw); rc != 0)
        return lmdb_error(rc, "registry " + dir);
    WriterEnvironment opened;
    opened.env.reset(raw);
    mdb_env_set_maxdbs(raw, kMaxTables);
    mdb_env_set_mapsize(raw, kMapSize);
    // NOMETASYNC: the meta page is synced after the commit sequence is even
    // again, so readers do not wait for that fsync (commit() syncs it).
    if (int rc = mdb_env_open(raw, dir.c_str(), MDB_NOTLS | MDB_NOLOCK | MDB_NOMETASYNC, 0600);
        rc != 0) {
        return lmdb_error(rc, "registry " + dir);
    }
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
    // Only provisioning makes the tables (a commit); keytool's other
    // commands find them.
    Status tables = open_tables(raw, dir, false, opened, sequence);
    if (!tables && tables.code() == Errc::not_found && mode == OpenMode::create)
        tables = open_tables(raw, dir, true, opened, sequence);
    if (!tables)
        return tables;
    lmdb = std::move(opened);

    return keep_index_current();
}

// Under the write lock. The index must say what LMDB says: not so if a
// writer died mid-commit (the counter is odd), if the file is missing (a
// registry from before it), if another writer has replaced or rebuilt it
// since this process mapped it, or if it reflects another LMDB transaction
// (a crash between the two commits, a power loss). Whatever file is at the
// path is mapped first, so that a rebuild retires it for the readers.
Status LmdbRegistry::Impl::keep_index_current() {
    FileIdentity on_disk;
    const bool ours = index.mapped() && !index.retired() &&
                      identify(layout.lookup_index(), on_disk) &&
                      on_disk == FileIdentity{index.device(), index.inode()};
    if (!ours) {
        auto reopened = LookupIndex::open_for_writing(layout.lookup_index());
        index = reopened ? std::move(*reopened) : LookupIndex();
    }
    if (!sequence.odd() && index.mapped() && index.lmdb_txnid() == last_txnid(lmdb->env.get())) {
        return {};
    }
    auto fresh = prepare_index(std::nullopt);
    sequence.begin_commit();
    if (!fresh)
        return fresh.error();  // the counter stays odd: servers refuse, the next writer retries
    if (Status s = fill_and_publish(std::move(*fresh)); !s)
        return s;
    sequence.end_commit();
    return {};
}

// A new index file, its room allocated now (a full disk fails here, cleanly,
// not as SIGBUS on a write into a hole later), for the clients LMDB holds
// (in txn, or committed), with room to grow.
Result<LookupIndex> LmdbRegistry::Impl::prepare_index(std::optional<MDB_txn*> txn) {
    MDB_txn* reading = txn.value_or(nullptr);
    MdbTxnPtr own;
    if (reading == nullptr) {
        if (int rc = mdb_txn_begin(lmdb->env.get(), nullptr, MDB_RDONLY, &reading); rc != 0)
            return lmdb_error(rc, "registry " + layout.dir);
        own.reset(reading);
    }
    MDB_stat stat{};
    if (int rc = mdb_stat(reading, lmdb->clients, &stat); rc != 0)
        return lmdb_error(rc, "registry " + layout.dir);
    struct stat data {};
    if (::stat(layout.data_file().c_str(), &data) != 0)
        return make_error(Errc::io_error, layout.data_file() + ": " + std::strerror(errno));
    auto fresh = LookupIndex::create(layout.lookup_index(), stat.ms_entries, data.st_gid);
    if (!fresh)
        return with_dir(layout.dir, fresh.error());
    return fresh;
}

// Inside the odd window: every committed client into fresh, which then
// replaces lookup.idx; the file it replaces is marked retired for readers.
Status LmdbRegistry::Impl::fill_and_publish(LookupIndex fresh) {
    MDB_env* env = lmdb->env.get();
    MDB_txn* raw = nullptr;
    if (int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &raw); rc != 0)
        return lmdb_error(rc, "registry " + layout.dir);
    MdbTxnPtr txn(raw);
    MDB_cursor* cursor_raw = nullptr;
    if (int rc = mdb_cursor_open(raw, lmdb->clients, &cursor_raw); rc != 0)
        return lmdb_error(rc, "registry " + layout.dir);
    MdbCursorPtr cursor(cursor_raw);
    MDB_val key{};
    MDB_val value{};
    int rc = mdb_cursor_get(cursor_raw, &key, &value, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cursor_raw, &key, &value, MDB_NEXT)) {
        ClientCredentials credentials;
        if (!is_valid_client_id(as_view(key)) || !decode_credentials(as_view(value), credentials)) {
            return make_error(Errc::registry_corrupt, "registry record is corrupt");
        }
        if (!fresh.has_room_for(1))
            return make_error(Errc::registry_corrupt, "registry changed while indexing");
        fresh.put(as_view(key), credentials);
    }
    if (rc != MDB_NOTFOUND)
        return lmdb_error(rc, "registry " + layout.dir);
    fresh.set_lmdb_txnid(last_txnid(env));
    if (Status s = fresh.publish(layout.lookup_index()); !s)
        return with_dir(layout.dir, s.error());
    if (index.mapped())
        index.retire();  // readers still on it reopen
    index = std::move(fresh);
    return {};
}

// Readers notice a registry replaced on disk (new inode, or gone) and reopen.
Status LmdbRegistry::Impl::ensure_current() {
    if (mode == OpenMode::read_only) {
        const std::int64_t now = monotonic_millis();
        if (now >= next_check_millis) {
            next_check_millis = now + kReplacementCheckMillis;
            FileIdentity on_disk_index;
            FileIdentity on_disk_sequence;
            const bool present = identify(layout.lookup_index(), on_disk_index) &&
                                 identify(layout.commit_sequence(), on_disk_sequence);
            if (!open || !present ||
                !(on_disk_index == FileIdentity{index.device(), index.inode()}) ||
                !(on_disk_sequence == FileIdentity{sequence.device(), sequence.inode()})) {
                ++reopen_count;
                if (Status s = open_files(); !s)
                    return s;
            }
        }
    }
    if (!open)
        return make_error(Errc::not_found, "registry " + layout.dir + " is not open");
    return {};
}

Status LmdbRegistry::Impl::settled(std::uint64_t& counter, WaitDeadline& deadline) {
    if (Status s = ensure_current(); !s)
        return s;
    counter = sequence.load();
    if (!(counter & 1))
        return {};
    // After one full wait in vain, refuse at once for a while: a server's
    // event loop must not stall a second on every request.
    const auto stuck = [&] {
        return make_error(Errc::io_error, "registry " + layout.dir + ": " + kStuckWrite);
    };
    if (monotonic_millis() < stuck_until_millis)
        return stuck();
    for (int round = 0; counter & 1; ++round) {
        if (deadline.passed()) {
            stuck_until_millis = monotonic_millis() + kReaderWaitMillis;
            return stuck();
        }
        pause_briefly(round);
        counter = sequence.load();
    }
    return {};
}

// A reader trusts what it read only if no commit began between noting the
// counter and checking it again; otherwise it reads again, for at most
// kReaderWaitMillis, then fails closed. An index the writer has replaced
// (grown, rebuilt) says so in its header; the reader moves to the new one.
template <class Lookup>
Status LmdbRegistry::Impl::read_index(std::uint64_t& tag, LookupIndex::Found& found,
                                      Lookup&& lookup) {
    WaitDeadline deadline;
    for (;;) {
        std::uint64_t counter = 0;
        if (Status s = settled(counter, deadline); !s)
            return s;
        const LookupIndex::Found answer = lookup(index);
        const bool retired = index.retired();
        if (sequence.reload() == counter) {
            if (retired) {
                ++reopen_count;
                if (Status s = open_files(); !s)
                    return s;
                continue;
            }
            if (answer == LookupIndex::Found::garbage) {
                return make_error(Errc::registry_corrupt,
                                  "registry " + layout.dir + ": lookup.idx is corrupt");
            }
            tag = tag_of(counter);
            found = answer;
            return {};
        }
        if (deadline.passed())
            return make_error(Errc::io_error, "registry " + layout.dir + ": " + kStuckWrite);
    }
}

// keytool reads LMDB, the registry of record, under the write lock: nothing
// can commit meanwhile.
template <class Lookup>
Status LmdbRegistry::Impl::read_lmdb(Lookup&& lookup) {
    auto lock = WriterLock::acquire(layout.writer_lock());
    if (!lock)
        return with_dir(layout.dir, lock.error());
    MDB_txn* raw = nullptr;
    if (int rc = mdb_txn_begin(lmdb->env.get(), nullptr, MDB_RDONLY, &raw); rc != 0)
        return lmdb_error(rc, "registry " + layout.dir);
    MdbTxnPtr txn(raw);
    return lookup(raw);
}

LmdbRegistry::LmdbRegistry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LmdbRegistry::~LmdbRegistry() = default;

Result<std::unique_ptr<LmdbRegistry>> LmdbRegistry::open(std::string_view dir, OpenMode mode) {
    auto impl = std::make_unique<Impl>();
    impl->layout = RegistryLayout{std::string(dir)};
    impl->mode = mode;
    if (Status s = impl->open_files(); !s)
        return s.error();
    impl->next_check_millis = monotonic_millis() + kReplacementCheckMillis;
    return std::unique_ptr<LmdbRegistry>(new LmdbRegistry(std::move(impl)));
}

Result<std::unique_ptr<LmdbRegistry>> open_registry_to_read(std::string_view dir) {
    const std::string path(dir);
    const bool owner = access(path.c_str(), W_OK) == 0;
    return LmdbRegistry::open(dir, owner ? OpenMode::read_write : OpenMode::read_only);
}

namespace {

Status unknown(LookupIndex::Found found, const char* what) {
    if (found == LookupIndex::Found::yes)
        return {};
    return make_error(Errc::unknown_client, what);
}

}  // namespace

// The hot path: while nothing has committed since a client was last looked
// up, its answer comes from the cache; otherwise from the lookup index.
Status LmdbRegistry::find(std::string_view id, ClientCredentials& out) {
    if (id.empty() || id.size() > kMaxClientIdLength) {
        return make_error(Errc::unknown_client, "unknown client");
    }
    if (impl_->mode != OpenMode::read_only) {
        return impl_->read_lmdb(
            [&](MDB_txn* txn) { return read_credentials(txn, impl_->lmdb->clients, id, out); });
    }
    std::uint64_t counter = 0;
    WaitDeadline deadline;
    if (Status s = impl_->settled(counter, deadline); !s)
        return s;
    if (impl_->cache.find(impl_->tag_of(counter), id, out))
        return {};
    std::uint64_t tag = 0;
    LookupIndex::Found found = LookupIndex::Found::no;
    if (Status s = impl_->read_index(tag, found,
                                     [&](const LookupIndex& index) { return index.find(id, out); });
        !s) {
        return s;
    }
    if (found == LookupIndex::Found::yes)
        impl_->cache.remember(tag, id, out);
    return unknown(found, "unknown client");
}

Status LmdbRegistry::find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                                         ClientCredentials& out) {
    if (impl_->mode != OpenMode::read_only) {
        return impl_->read_lmdb([&](MDB_txn* txn) -> Status {
            MDB_val key = mdb_value(fingerprint.bytes.data(), fingerprint.bytes.size());
            MDB_val value{};
            const int rc = mdb_get(txn, impl_->lmdb->fingerprints, &key, &value);
            if (rc == MDB_NOTFOUND)
                return make_error(Errc::unknown_client, "unknown certificate");
            if (rc != 0)
                return lmdb_error(rc, "reading certificate index");
            const std::string_view owner = as_view(value);
            if (!is_valid_client_id(owner))
                return make_error(Errc::registry_corrupt, "certificate index is corrupt");
            if (Status s = read_credentials(txn, impl_->lmdb->clients, owner, out); !s)
                return s;
            // The index and the record must agree; a stale entry is refused.
            if (!(out.certificate_fingerprint == fingerprint))
                return make_error(Errc::unknown_client, "unknown certificate");
            id.assign(owner);
            return {};
        });
    }
    std::uint64_t counter = 0;
    WaitDeadline deadline;
    if (Status s = impl_->settled(counter, deadline); !s)
        return s;
    if (impl_->cache.find(impl_->tag_of(counter), fingerprint, id, out))
        return {};
    std::uint64_t tag = 0;
    LookupIndex::Found found = LookupIndex::Found::no;
    if (Status s = impl_->read_index(tag, found,
                                     [&](const LookupIndex& index) {
                                         return index.find_by_fingerprint(fingerprint, id, out);
                                     });
        !s) {
        return s;
    }
    if (found == LookupIndex::Found::yes)
        impl_->cache.remember(tag, fingerprint, id, out);
    return unknown(found, "unknown certificate");
}

// keytool and the console walk LMDB's cursor under the write lock; servers
// have only lookup.idx, a hash table, ordered once sorted.
Status LmdbRegistry::scan(bool backward, const std::function<void()>& start_over,
                          const ClientVisitor& visit) {
    if (impl_->mode == OpenMode::read_only) {
        std::vector<ClientRecord> records;
        std::uint64_t tag = 0;
        LookupIndex::Found found = LookupIndex::Found::no;
        Status listed = impl_->read_index(tag, found, [&](const LookupIndex& index) {
            records.clear();  // a retry starts over
            const bool whole = index.for_each([&](std::string_view id, const ClientCredentials& c) {
                records.push_back(ClientRecord{std::string(id), c});
            });
            return whole ? LookupIndex::Found::yes : LookupIndex::Found::garbage;
        });
        if (!listed)
            return listed;
        std::sort(records.begin(), records.end(),
                  [&](const ClientRecord& a, const ClientRecord& b) {
                      return backward ? b.id < a.id : a.id < b.id;
                  });
        start_over();
        for (const ClientRecord& record : records) {
            if (!visit(record.id, record.credentials))
                break;
        }
        return {};
    }
    return impl_->read_lmdb([&](MDB_txn* txn) -> Status {
        start_over();
        MDB_cursor* raw = nullptr;
        if (int rc = mdb_cursor_open(txn, impl_->lmdb->clients, &raw); rc != 0)
            return lmdb_error(rc, "listing clients");
        MdbCursorPtr cursor(raw);
        MDB_val key{};
        MDB_val value{};
        const MDB_cursor_op step = backward ? MDB_PREV : MDB_NEXT;
        int rc = mdb_cursor_get(raw, &key, &value, backward ? MDB_LAST : MDB_FIRST);
        ClientCredentials credentials;
        for (; rc == 0; rc = mdb_cursor_get(raw, &key, &value, step)) {
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
    std::size_t entries = 0;
    Status counted;
    if (impl_->mode == OpenMode::read_only) {
        counted = scan(
            false, [&] { entries = 0; },
            [&](std::string_view, const ClientCredentials&) {
                ++entries;
                return true;
            });
    } else {
        counted = impl_->read_lmdb([&](MDB_txn* txn) -> Status {
            MDB_stat stat{};
            if (int rc = mdb_stat(txn, impl_->lmdb->clients, &stat); rc != 0)
                return lmdb_error(rc, "counting clients");
            entries = static_cast<std::size_t>(stat.ms_entries);
            return {};
        });
    }
    if (!counted)
        return counted.error();
    return entries;
}

Result<std::vector<ClientRecord>> LmdbRegistry::list() {
    std::vector<ClientRecord> records;
    Status listed = scan(
        false, [&] { records.clear(); },
        [&](std::string_view id, const ClientCredentials& credentials) {
            records.push_back(ClientRecord{std::string(id), credentials});
            return true;
        });
    if (!listed)
        return listed.error();
    return records;
}

// The state a lookup made now would read: the commit sequence, which every
// commit moves, tagged with the files it guards.
std::uint64_t LmdbRegistry::generation() {
    std::uint64_t counter = 0;
    WaitDeadline deadline;
    if (!impl_->settled(counter, deadline))
        return ~std::uint64_t{0};
    return impl_->tag_of(counter);
}

namespace {

class LmdbWriter final : public RegistryWriter {
  public:
    LmdbWriter(WriterLock lock, MdbTxnPtr txn, LmdbRegistry::Impl& impl)
        : lock_(std::move(lock)),
          txn_(std::move(txn)),
          clients_(impl.lmdb->clients),
          fingerprints_(impl.lmdb->fingerprints),
          impl_(impl) {}

    Status find(std::string_view id, ClientCredentials& out) override {
        return read_credentials(txn_.get(), clients_, id, out);
    }

    Status put(const ClientRecord& record, bool replace) override {
        if (Status s = check_client_id(record.id); !s)
            return s;
        ClientCredentials old;
        Status existing = find(record.id, old);
        if (existing.ok() && !replace) {
            return make_error(Errc::already_exists, "client " + record.id + " already exists");
        }
        if (existing.ok()) {
            if (Status s = drop_fingerprint(old.certificate_fingerprint); !s)
                return s;
        } else if (existing.code() != Errc::unknown_client) {
            return existing;
        }
        const auto encoded = encode_credentials(record.credentials);
        const auto& fp = record.credentials.certificate_fingerprint.bytes;
        MDB_val key = mdb_value(record.id.data(), record.id.size());
        MDB_val value = mdb_value(encoded.data(), encoded.size());
        if (int rc = mdb_put(txn_.get(), clients_, &key, &value, 0); rc != 0) {
            return lmdb_error(rc, "writing client " + record.id);
        }
        MDB_val fp_key = mdb_value(fp.data(), fp.size());
        MDB_val owner = mdb_value(record.id.data(), record.id.size());
        if (int rc = mdb_put(txn_.get(), fingerprints_, &fp_key, &owner, MDB_NOOVERWRITE);
            rc != 0) {
            return lmdb_error(rc, "indexing certificate of " + record.id);
        }
        if (!rebuild_)  // a rebuild reads LMDB itself at commit
            changes_.push_back({record.id, record.credentials});
        return {};
    }

    Status erase(std::string_view id) override {
        ClientCredentials old;
        if (Status s = find(id, old); !s) {
            if (s.code() == Errc::unknown_client) {
                return make_error(Errc::unknown_client, "no client " + std::string(id));
            }
            return s;
        }
        if (Status s = drop_fingerprint(old.certificate_fingerprint); !s)
            return s;
        MDB_val key = mdb_value(id.data(), id.size());
        if (int rc = mdb_del(txn_.get(), clients_, &key, nullptr); rc != 0) {
            return lmdb_error(rc, "deleting client");
        }
        if (!rebuild_)
            changes_.push_back({std::string(id), std::nullopt});
        return {};
    }

    Status erase_all() override {
        for (MDB_dbi table : {clients_, fingerprints_}) {
            if (int rc = mdb_drop(txn_.get(), table, 0); rc != 0)
                return lmdb_error(rc, "emptying registry");
        }
        changes_.clear();
        rebuild_ = true;
        return {};
    }

    Status put_meta(std::string_view key, std::string_view value) override {
        if (Status s = open_meta(); !s)
            return s;
        MDB_val k = mdb_value(key.data(), key.size());
        MDB_val v = mdb_value(value.data(), value.size());
        if (int rc = mdb_put(txn_.get(), meta_, &k, &v, 0); rc != 0)
            return lmdb_error(rc, "writing registry metadata");
        return {};
    }

    Result<std::optional<std::string>> find_meta(std::string_view key) override {
        if (Status s = open_meta(); !s)
            return s.error();
        MDB_val k = mdb_value(key.data(), key.size());
        MDB_val v{};
        const int rc = mdb_get(txn_.get(), meta_, &k, &v);
        if (rc == MDB_NOTFOUND)
            return std::optional<std::string>();
        if (rc != 0)
            return lmdb_error(rc, "reading registry metadata");
        return std::optional<std::string>(std::string(as_view(v)));
    }

    // LMDB and the lookup index change together inside the odd window. A
    // new index file, when one is needed, is made (its room allocated)
    // before the window: a full disk then fails the commit with nothing
    // changed. If the index still cannot follow, the counter stays odd:
    // servers refuse until the next writer rebuilds it, rather than serve
    // what LMDB no longer says.
    Status commit() override {
        if (!txn_)
            return make_error(Errc::io_error, "transaction already finished");
        std::optional<LookupIndex> fresh;
        if (rebuild_ || !impl_.index.has_room_for(changes_.size())) {
            auto prepared = impl_.prepare_index(txn_.get());
            if (!prepared)
                return prepared.error();  // the transaction is dropped: nothing changed
            fresh = std::move(*prepared);
        }
        impl_.sequence.begin_commit();
        if (int rc = mdb_txn_commit(txn_.release()); rc != 0) {
            impl_.sequence.end_commit();
            return lmdb_error(rc, "committing registry");
        }
        const Status applied = fresh ? impl_.fill_and_publish(std::move(*fresh)) : apply_to_index();
        if (!applied) {
            return make_error(applied.code(), "registry committed, but " + applied.error().message +
                                                  ": servers refuse every client until the "
                                                  "next keytool command repairs the lookup index");
        }
        impl_.sequence.end_commit();
        // The meta page's own fsync, left out of the commit (MDB_NOMETASYNC).
        if (int rc = mdb_env_sync(impl_.lmdb->env.get(), 1); rc != 0)
            return lmdb_error(rc, "syncing registry");
        return {};
    }

  private:
    struct Change {
        std::string id;
        std::optional<ClientCredentials> credentials;  // none: deleted
    };

    // In place, so that a power loss cannot leave slots older than the
    // transaction the header names: the header first says none (0), then
    // the slots reach the disk, then the header names the transaction.
    Status apply_to_index() {
        LookupIndex& index = impl_.index;
        index.set_lmdb_txnid(0);
        if (Status s = index.sync_header(); !s)
            return s;
        for (const Change& change : changes_) {
            if (change.credentials)
                index.put(change.id, *change.credentials);
            else
                index.erase(change.id);
        }
        if (Status s = index.sync(); !s)
            return s;
        index.set_lmdb_txnid(last_txnid(impl_.lmdb->env.get()));
        return index.sync_header();
    }

    // Made on first use: registries from before it have no meta table.
    Status open_meta() {
        if (meta_open_)
            return {};
        if (int rc = mdb_dbi_open(txn_.get(), kMetaDb, MDB_CREATE, &meta_); rc != 0)
            return lmdb_error(rc, "opening registry metadata");
        meta_open_ = true;
        return {};
    }

    Status drop_fingerprint(const Fingerprint& fingerprint) {
        MDB_val key = mdb_value(fingerprint.bytes.data(), fingerprint.bytes.size());
        const int rc = mdb_del(txn_.get(), fingerprints_, &key, nullptr);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return lmdb_error(rc, "updating certificate index");
        return {};
    }

    WriterLock lock_;  // declared first: released after the transaction ends
    MdbTxnPtr txn_;
    MDB_dbi clients_;
    MDB_dbi fingerprints_;
    LmdbRegistry::Impl& impl_;
    MDB_dbi meta_ = 0;
    bool meta_open_ = false;
    std::vector<Change> changes_;
    bool rebuild_ = false;
};

}  // namespace

Result<std::unique_ptr<RegistryWriter>> LmdbRegistry::begin_write() {
    if (impl_->mode == OpenMode::read_only) {
        return make_error(Errc::permission_denied, "registry is open read-only");
    }
    auto lock = WriterLock::acquire(impl_->layout.writer_lock());
    if (!lock)
        return with_dir(impl_->layout.dir, lock.error());
    // Another writer may have rebuilt or replaced the index since this
    // process mapped it, or died mid-commit: never apply to a stale file.
    if (Status s = impl_->keep_index_current(); !s)
        return s.error();
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(impl_->lmdb->env.get(), nullptr, 0, &txn); rc != 0) {
        return lmdb_error(rc, "registry " + impl_->layout.dir);
    }
    return std::unique_ptr<RegistryWriter>(
        new LmdbWriter(std::move(*lock), MdbTxnPtr(txn), *impl_));
}

}  // namespace keyauth
