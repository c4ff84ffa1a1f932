#include "keyauth/registry.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csetjmp>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "commit_sequence.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/files.hpp"
#include "keyauth/registry_layout.hpp"
#include "lmdb_handles.hpp"
#include "lookup_cache.hpp"
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
    "mid-commit: run any keytool command that writes, e.g. keytool list as root, to repair it)";

std::int64_t monotonic_millis() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Readers never write, so LMDB cannot keep a commit from reusing the pages
// of the snapshot a reader is in the middle of. Whatever such a read gets is
// discarded (the commit sequence moved), but it must not bring the server
// down: LMDB's own assertions on a page being rewritten escape back to the
// lookup, which fails and is retried, and the data file ends with slack so
// that no offset read from a torn page lies past its end.
thread_local std::jmp_buf* torn_read_escape = nullptr;
constexpr off_t kReadSlackBytes = off_t{1} << 20;

void escape_torn_read(MDB_env*, const char*) {
    if (torn_read_escape != nullptr)
        std::longjmp(*torn_read_escape, 1);
}

// One LMDB read call for a reader: nothing with a destructor lives between
// the setjmp and LMDB's frames.
template <class Call>
int guarded(const Call& call) {
    std::jmp_buf escape;
    if (setjmp(escape) != 0) {
        torn_read_escape = nullptr;
        return MDB_CORRUPTED;
    }
    torn_read_escape = &escape;
    const int rc = call();
    torn_read_escape = nullptr;
    return rc;
}

int guarded_get(MDB_txn* txn, MDB_dbi dbi, MDB_val* key, MDB_val* value) {
    return guarded([&] { return mdb_get(txn, dbi, key, value); });
}

// For the console's pages.
int guarded_cursor_get(MDB_cursor* cursor, MDB_val* key, MDB_val* value, MDB_cursor_op op) {
    return guarded([&] { return mdb_cursor_get(cursor, key, value, op); });
}

// Keeps kReadSlackBytes of (sparse) file after the last page in use.
Status keep_read_slack(MDB_env* env, const std::string& path) {
    MDB_envinfo info{};
    MDB_stat stat{};
    int fd = -1;
    struct stat st {};
    if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &stat) != 0 ||
        mdb_env_get_fd(env, &fd) != 0 || fstat(fd, &st) != 0) {
        return make_error(Errc::io_error, path + ": cannot size the data file");
    }
    const off_t used = static_cast<off_t>(info.me_last_pgno + 1) * stat.ms_psize;
    if (st.st_size >= used + kReadSlackBytes)
        return {};
    if (ftruncate(fd, used + 2 * kReadSlackBytes) != 0)
        return make_error(Errc::io_error, path + ": " + std::strerror(errno));
    return {};
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

// One open LMDB environment with its two tables. Everyone opens LMDB with
// MDB_NOLOCK: readers take no slot and write nothing; the writer lock and
// the commit sequence do what lock.mdb did.
struct OpenEnvironment {
    MdbEnvPtr env;
    MDB_dbi clients = 0;
    MDB_dbi fingerprints = 0;
    MdbTxnPtr reader;  // read_only: reset between lookups, renewed for each
    CommitSequence sequence;
    FileIdentity data_identity;
};

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

struct LmdbRegistry::Impl {
    RegistryLayout layout;
    OpenMode mode = OpenMode::read_only;
    std::optional<OpenEnvironment> open_env;
    std::int64_t next_check_millis = 0;
    std::uint64_t reopen_count = 0;
    LookupCache cache;  // read-only mode only: servers answering many lookups

    Status open_environment();
    Status open_reader();
    Status open_writer();
    Status ensure_current();
    // Waits for a counter with no commit in progress.
    Status settled(std::uint64_t& counter, WaitDeadline& deadline);
    // Runs lookup(txn) on one committed snapshot; tag names that snapshot.
    template <class Lookup>
    Status read(std::uint64_t& tag, Lookup&& lookup);
    // Unique per committed state and per reopened registry; never 0.
    std::uint64_t tag_of(std::uint64_t counter) const {
        return ((reopen_count + 1) << 48) ^ counter;
    }
};

namespace {

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

bool exists(const std::string& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
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

void pause_briefly(int round) {
    if (round < 16) {
        sched_yield();
        return;
    }
    const timespec pause{0, 100 * 1000};
    nanosleep(&pause, nullptr);
}

}  // namespace

Status check_registry_directory(std::string_view dir_view) {
    const RegistryLayout layout{std::string(dir_view)};
    if (Status s = check_directory(layout.dir); !s)
        return s;
    if (Status s = check_file(layout.dir, layout.data_file(), "data.mdb"); !s)
        return s;
    if (!exists(layout.commit_sequence())) {
        return make_error(Errc::not_found,
                          "registry " + layout.dir +
                              " was made by keyauth 0.1 and has no commit.seq: run any keytool "
                              "command on it as root once (e.g. keytool list) to upgrade it");
    }
    return check_file(layout.dir, layout.commit_sequence(), "commit.seq");
}

Status LmdbRegistry::Impl::open_environment() {
    open_env.reset();
    return mode == OpenMode::read_only ? open_reader() : open_writer();
}

namespace {

Status open_tables(MDB_env* env, const std::string& dir, bool create, OpenEnvironment& into) {
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
        into.sequence.begin_commit();
    rc = mdb_txn_commit(setup.release());
    if (create)
        into.sequence.end_commit();
    if (rc != 0)
        return lmdb_error(rc, "registry " + dir);
    return {};
}

// One attempt at opening the data file as a reader, for the state the
// counter named; the caller retries if a commit ran meanwhile.
Status open_reader_environment(const std::string& dir, OpenEnvironment& opened) {
    MDB_env* raw = nullptr;
    if (int rc = mdb_env_create(&raw); rc != 0)
        return lmdb_error(rc, "registry " + dir);
    opened.env.reset(raw);
    mdb_env_set_maxdbs(raw, kMaxTables);
    mdb_env_set_assert(raw, escape_torn_read);
    if (int rc = mdb_env_open(raw, dir.c_str(), MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0); rc != 0) {
        return lmdb_error(rc, "registry " + dir);
    }
    if (Status s = open_tables(raw, dir, false, opened); !s)
        return s;
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(raw, nullptr, MDB_RDONLY, &txn); rc != 0)
        return lmdb_error(rc, "registry " + dir);
    mdb_txn_reset(txn);
    opened.reader.reset(txn);
    return {};
}

bool identify_open_data(MDB_env* env, FileIdentity& out) {
    int fd = -1;
    struct stat st {};
    if (mdb_env_get_fd(env, &fd) != 0 || fstat(fd, &st) != 0)
        return false;
    out = FileIdentity{st.st_dev, st.st_ino};
    return true;
}

}  // namespace

Status LmdbRegistry::Impl::open_reader() {
    const std::string& dir = layout.dir;
    if (Status s = check_registry_directory(dir); !s)
        return s;
    auto sequence = CommitSequence::open_for_reading(layout.commit_sequence());
    if (!sequence)
        return make_error(sequence.error().code,
                          "registry " + dir + ": " + sequence.error().message);
    WaitDeadline deadline;
    for (int round = 0;; ++round) {
        std::uint64_t counter = sequence->load();
        while (counter & 1) {
            if (deadline.passed())
                return make_error(Errc::io_error, "registry " + dir + ": " + kStuckWrite);
            pause_briefly(round++);
            counter = sequence->load();
        }
        OpenEnvironment opened;
        Status status = open_reader_environment(dir, opened);
        if (sequence->reload() != counter) {
            if (deadline.passed())
                return make_error(Errc::io_error, "registry " + dir + ": " + kStuckWrite);
            continue;  // a commit ran: what was read may be torn
        }
        if (!status)
            return status;
        // The counter must be the one that guards this data file: a
        // registry swapped in meanwhile brings its own.
        FileIdentity sequence_now;
        if (!identify(layout.commit_sequence(), sequence_now) ||
            !(sequence_now == FileIdentity{sequence->device(), sequence->inode()}) ||
            !identify_open_data(opened.env.get(), opened.data_identity)) {
            return make_error(Errc::not_found, "registry " + dir + " changed while opening");
        }
        opened.sequence = std::move(*sequence);
        open_env = std::move(opened);
        return {};
    }
}

namespace {

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
    const bool present = exists(layout.data_file());
    if (!present && mode != OpenMode::create)
        return check_file(dir, layout.data_file(), "data.mdb");
    auto lock = WriterLock::acquire(layout.writer_lock());
    if (!lock)
        return make_error(lock.error().code, "registry " + dir + ": " + lock.error().message);
    if (present && (exists(layout.legacy_lock_file()) || !exists(layout.commit_sequence()))) {
        if (Status s = upgrade_legacy_registry(layout); !s)
            return s;
    }

    MDB_env* raw = nullptr;
    if (int rc = mdb_env_create(&raw); rc != 0)
        return lmdb_error(rc, "registry " + dir);
    OpenEnvironment opened;
    opened.env.reset(raw);
    mdb_env_set_maxdbs(raw, kMaxTables);
    mdb_env_set_mapsize(raw, kMapSize);
    // NOMETASYNC: the meta page is synced after the commit sequence is even
    // again, so readers do not wait for that fsync (commit() syncs it).
    if (int rc = mdb_env_open(raw, dir.c_str(), MDB_NOTLS | MDB_NOLOCK | MDB_NOMETASYNC, 0600);
        rc != 0) {
        return lmdb_error(rc, "registry " + dir);
    }
    // The servers may read the data, never write it, whatever made the file.
    int data_fd = -1;
    if (mdb_env_get_fd(raw, &data_fd) != 0 || fchmod(data_fd, 0640) != 0)
        return make_error(Errc::permission_denied,
                          layout.data_file() + ": " + std::strerror(errno));
    auto sequence = CommitSequence::open_for_writing(layout.commit_sequence(), layout.data_file());
    if (!sequence)
        return make_error(sequence.error().code,
                          "registry " + dir + ": " + sequence.error().message);
    opened.sequence = std::move(*sequence);
    opened.sequence.repair();
    // Only provisioning makes the tables (a commit); keytool's other
    // commands find them.
    Status tables = open_tables(raw, dir, false, opened);
    if (!tables && tables.code() == Errc::not_found && mode == OpenMode::create)
        tables = open_tables(raw, dir, true, opened);
    if (!tables)
        return tables;
    if (Status s = keep_read_slack(raw, layout.data_file()); !s)
        return s;
    identify_open_data(raw, opened.data_identity);
    open_env = std::move(opened);
    return {};
}

// Readers notice a registry replaced on disk (new inode, or gone) and reopen.
Status LmdbRegistry::Impl::ensure_current() {
    if (mode == OpenMode::read_only) {
        const std::int64_t now = monotonic_millis();
        if (now >= next_check_millis) {
            next_check_millis = now + kReplacementCheckMillis;
            FileIdentity data;
            FileIdentity sequence;
            const bool present =
                identify(layout.data_file(), data) && identify(layout.commit_sequence(), sequence);
            if (!open_env || !present || !(data == open_env->data_identity) ||
                !(sequence ==
                  FileIdentity{open_env->sequence.device(), open_env->sequence.inode()})) {
                ++reopen_count;
                if (Status s = open_environment(); !s)
                    return s;
            }
        }
    }
    if (!open_env)
        return make_error(Errc::not_found, "registry " + layout.dir + " is not open");
    return {};
}

Status LmdbRegistry::Impl::settled(std::uint64_t& counter, WaitDeadline& deadline) {
    if (Status s = ensure_current(); !s)
        return s;
    counter = open_env->sequence.load();
    for (int round = 0; counter & 1; ++round) {
        if (deadline.passed())
            return make_error(Errc::io_error, "registry " + layout.dir + ": " + kStuckWrite);
        pause_briefly(round);
        counter = open_env->sequence.load();
    }
    return {};
}

// A reader trusts what it read only if no commit began between noting the
// counter and checking it again: then the meta page it picked was whole,
// and no page of its snapshot can have been reused. Otherwise it reads
// again, for at most kReaderWaitMillis, then fails closed. keytool reads
// under the write lock instead: nothing can commit meanwhile.
template <class Lookup>
Status LmdbRegistry::Impl::read(std::uint64_t& tag, Lookup&& lookup) {
    if (mode != OpenMode::read_only) {
        auto lock = WriterLock::acquire(layout.writer_lock());
        if (!lock)
            return make_error(lock.error().code,
                              "registry " + layout.dir + ": " + lock.error().message);
        MDB_txn* raw = nullptr;
        if (int rc = mdb_txn_begin(open_env->env.get(), nullptr, MDB_RDONLY, &raw); rc != 0)
            return lmdb_error(rc, "registry " + layout.dir);
        MdbTxnPtr txn(raw);
        tag = tag_of(open_env->sequence.load());
        return lookup(raw);
    }
    WaitDeadline deadline;
    for (;;) {
        std::uint64_t counter = 0;
        if (Status s = settled(counter, deadline); !s)
            return s;
        MDB_txn* txn = open_env->reader.get();
        const int rc = mdb_txn_renew(txn);
        if (open_env->sequence.reload() != counter) {
            if (rc == 0)
                mdb_txn_reset(txn);
        } else if (rc == MDB_MAP_RESIZED) {
            ++reopen_count;  // the writer grew the map
            if (Status s = open_environment(); !s)
                return s;
        } else if (rc != 0) {
            return lmdb_error(rc, "registry " + layout.dir);
        } else {
            Status status = lookup(txn);
            mdb_txn_reset(txn);
            if (open_env->sequence.reload() == counter) {
                tag = tag_of(counter);
                return status;
            }
        }
        if (deadline.passed()) {
            return make_error(Errc::io_error, "registry " + layout.dir + ": " + kStuckWrite);
        }
    }
}

namespace {

Status read_credentials(MDB_txn* txn, MDB_dbi clients, std::string_view id,
                        ClientCredentials& out) {
    MDB_val key = mdb_value(id.data(), id.size());
    MDB_val value{};
    const int rc = guarded_get(txn, clients, &key, &value);
    if (rc == MDB_NOTFOUND)
        return make_error(Errc::unknown_client, "unknown client");
    if (rc != 0)
        return lmdb_error(rc, "reading client");
    if (!decode_credentials(as_view(value), out)) {
        return make_error(Errc::registry_corrupt, "registry record is corrupt");
    }
    return {};
}

}  // namespace

LmdbRegistry::LmdbRegistry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LmdbRegistry::~LmdbRegistry() = default;

Result<std::unique_ptr<LmdbRegistry>> LmdbRegistry::open(std::string_view dir, OpenMode mode) {
    auto impl = std::make_unique<Impl>();
    impl->layout = RegistryLayout{std::string(dir)};
    impl->mode = mode;
    if (Status s = impl->open_environment(); !s)
        return s.error();
    impl->next_check_millis = monotonic_millis() + kReplacementCheckMillis;
    return std::unique_ptr<LmdbRegistry>(new LmdbRegistry(std::move(impl)));
}

Result<std::unique_ptr<LmdbRegistry>> open_registry_to_read(std::string_view dir) {
    const std::string path(dir);
    const bool owner = access(path.c_str(), W_OK) == 0;
    return LmdbRegistry::open(dir, owner ? OpenMode::read_write : OpenMode::read_only);
}

// The hot path: while nothing has committed since a client was last looked
// up, its answer comes from the cache without touching LMDB at all.
Status LmdbRegistry::find(std::string_view id, ClientCredentials& out) {
    if (id.empty() || id.size() > kMaxClientIdLength) {
        return make_error(Errc::unknown_client, "unknown client");
    }
    const bool cached = impl_->mode == OpenMode::read_only;
    if (cached) {
        std::uint64_t counter = 0;
        WaitDeadline deadline;
        if (Status s = impl_->settled(counter, deadline); !s)
            return s;
        if (impl_->cache.find(impl_->tag_of(counter), id, out))
            return {};
    }
    std::uint64_t tag = 0;
    Status found = impl_->read(tag, [&](MDB_txn* txn) {
        return read_credentials(txn, impl_->open_env->clients, id, out);
    });
    if (found && cached)
        impl_->cache.remember(tag, id, out);
    return found;
}

Status LmdbRegistry::find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                                         ClientCredentials& out) {
    const bool cached = impl_->mode == OpenMode::read_only;
    if (cached) {
        std::uint64_t counter = 0;
        WaitDeadline deadline;
        if (Status s = impl_->settled(counter, deadline); !s)
            return s;
        if (impl_->cache.find(impl_->tag_of(counter), fingerprint, id, out))
            return {};
    }
    std::uint64_t tag = 0;
    Status found = impl_->read(tag, [&](MDB_txn* txn) -> Status {
        MDB_val key = mdb_value(fingerprint.bytes.data(), fingerprint.bytes.size());
        MDB_val value{};
        const int rc = guarded_get(txn, impl_->open_env->fingerprints, &key, &value);
        if (rc == MDB_NOTFOUND)
            return make_error(Errc::unknown_client, "unknown certificate");
        if (rc != 0)
            return lmdb_error(rc, "reading certificate index");
        const std::string_view owner = as_view(value);
        if (!is_valid_client_id(owner)) {
            return make_error(Errc::registry_corrupt, "certificate index is corrupt");
        }
        if (Status s = read_credentials(txn, impl_->open_env->clients, owner, out); !s)
            return s;
        // The index and the record must agree; a stale index entry is refused.
        if (!(out.certificate_fingerprint == fingerprint)) {
            return make_error(Errc::unknown_client, "unknown certificate");
        }
        id.assign(owner);
        return {};
    });
    if (found && cached)
        impl_->cache.remember(tag, fingerprint, id, out);
    return found;
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

Status LmdbRegistry::scan(bool backward, const std::function<void()>& start_over,
                          const ClientVisitor& visit) {
    std::uint64_t tag = 0;
    return impl_->read(tag, [&](MDB_txn* txn) -> Status {
        start_over();  // a reader's retry starts over
        MDB_cursor* raw = nullptr;
        if (int rc = mdb_cursor_open(txn, impl_->open_env->clients, &raw); rc != 0) {
            return lmdb_error(rc, "listing clients");
        }
        MdbCursorPtr cursor(raw);
        MDB_val key{};
        MDB_val value{};
        const MDB_cursor_op step = backward ? MDB_PREV : MDB_NEXT;
        int rc = guarded_cursor_get(raw, &key, &value, backward ? MDB_LAST : MDB_FIRST);
        ClientCredentials credentials;
        for (; rc == 0; rc = guarded_cursor_get(raw, &key, &value, step)) {
            if (!decode_credentials(as_view(value), credentials)) {
                return make_error(Errc::registry_corrupt, "registry record is corrupt");
            }
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
    std::uint64_t tag = 0;
    Status counted = impl_->read(tag, [&](MDB_txn* txn) -> Status {
        MDB_stat stat{};
        if (int rc = mdb_stat(txn, impl_->open_env->clients, &stat); rc != 0)
            return lmdb_error(rc, "counting clients");
        entries = static_cast<std::size_t>(stat.ms_entries);
        return {};
    });
    if (!counted)
        return counted.error();
    return entries;
}

// The state a lookup made now would read: the commit sequence, which every
// commit moves, tagged with the registry file it guards.
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
    LmdbWriter(WriterLock lock, MdbTxnPtr txn, OpenEnvironment& environment)
        : lock_(std::move(lock)),
          txn_(std::move(txn)),
          clients_(environment.clients),
          fingerprints_(environment.fingerprints),
          env_(environment.env.get()),
          sequence_(environment.sequence) {}

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
        return {};
    }

    Status erase_all() override {
        for (MDB_dbi table : {clients_, fingerprints_}) {
            if (int rc = mdb_drop(txn_.get(), table, 0); rc != 0)
                return lmdb_error(rc, "emptying registry");
        }
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

    Status commit() override {
        if (!txn_)
            return make_error(Errc::io_error, "transaction already finished");
        sequence_.begin_commit();
        int rc = mdb_txn_commit(txn_.release());
        sequence_.end_commit();
        // The meta page's own fsync, left out of the commit (MDB_NOMETASYNC).
        if (rc == 0)
            rc = mdb_env_sync(env_, 1);
        if (rc != 0)
            return lmdb_error(rc, "committing registry");
        return keep_read_slack(env_, "registry");
    }

  private:
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
    MDB_env* env_;
    CommitSequence& sequence_;
    MDB_dbi meta_ = 0;
    bool meta_open_ = false;
};

}  // namespace

Result<std::unique_ptr<RegistryWriter>> LmdbRegistry::begin_write() {
    if (impl_->mode == OpenMode::read_only) {
        return make_error(Errc::permission_denied, "registry is open read-only");
    }
    auto lock = WriterLock::acquire(impl_->layout.writer_lock());
    if (!lock) {
        return make_error(lock.error().code,
                          "registry " + impl_->layout.dir + ": " + lock.error().message);
    }
    OpenEnvironment& environment = *impl_->open_env;
    environment.sequence.repair();  // a writer died mid-commit
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(environment.env.get(), nullptr, 0, &txn); rc != 0) {
        return lmdb_error(rc, "registry " + impl_->layout.dir);
    }
    return std::unique_ptr<RegistryWriter>(
        new LmdbWriter(std::move(*lock), MdbTxnPtr(txn), environment));
}

}  // namespace keyauth
