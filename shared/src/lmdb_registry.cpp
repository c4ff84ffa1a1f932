#include "keyauth/registry.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "keyauth/client_id.hpp"
#include "keyauth/registry_layout.hpp"
#include "lmdb_handles.hpp"
#include "lookup_cache.hpp"

namespace keyauth {
namespace {

// Room for well over a million clients; the file is sparse, so this costs
// address space, not disk.
constexpr std::size_t kMapSize = std::size_t{8} << 30;
constexpr const char* kClientsDb = "clients";
constexpr const char* kFingerprintsDb = "fingerprints";
// How often a reader looks for a registry replaced on disk.
constexpr long kReplacementCheckMillis = 200;

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

// One open LMDB environment with its two tables.
struct OpenEnvironment {
    MdbEnvPtr env;
    MDB_dbi clients = 0;
    MDB_dbi fingerprints = 0;
    MdbTxnPtr reader;  // reset between lookups, renewed for each
    FileIdentity identity;
};

struct LmdbRegistry::Impl {
    RegistryLayout layout;
    OpenMode mode = OpenMode::read_only;
    std::optional<OpenEnvironment> open_env;
    std::int64_t next_check_millis = 0;
    std::uint64_t reopen_count = 0;
    LookupCache cache;  // read-only mode only: servers answering many lookups

    Status open_environment();
    Status ensure_current();
    Status begin_read(MDB_txn*& txn);
    void end_read(MDB_txn* txn);
    // Unique per LMDB snapshot and per reopened environment.
    std::uint64_t snapshot_of(MDB_txn* txn) const {
        return (reopen_count << 48) ^ static_cast<std::uint64_t>(mdb_txn_id(txn));
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

}  // namespace

Status check_registry_directory(std::string_view dir_view) {
    const RegistryLayout layout{std::string(dir_view)};
    if (Status s = check_directory(layout.dir); !s)
        return s;
    if (Status s = check_file(layout.dir, layout.data_file(), "data.mdb"); !s)
        return s;
    return check_file(layout.dir, layout.lock_file(), "lock.mdb");
}

Status LmdbRegistry::Impl::open_environment() {
    open_env.reset();
    const std::string& dir = layout.dir;
    if (Status s =
            mode == OpenMode::read_only ? check_registry_directory(dir) : check_directory(dir);
        !s) {
        return s;
    }

    MDB_env* raw = nullptr;
    if (int rc = mdb_env_create(&raw); rc != 0)
        return lmdb_error(rc, "registry " + dir);
    OpenEnvironment opened;
    opened.env.reset(raw);
    mdb_env_set_maxdbs(raw, 2);
    if (mode == OpenMode::read_write)
        mdb_env_set_mapsize(raw, kMapSize);
    const unsigned flags = MDB_NOTLS | (mode == OpenMode::read_only ? MDB_RDONLY : 0);
    if (int rc = mdb_env_open(raw, dir.c_str(), flags, 0660); rc != 0) {
        return lmdb_error(rc, "registry " + dir);
    }

    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(raw, nullptr, mode == OpenMode::read_only ? MDB_RDONLY : 0, &txn);
        rc != 0) {
        return lmdb_error(rc, "registry " + dir);
    }
    MdbTxnPtr setup(txn);
    const unsigned db_flags = mode == OpenMode::read_only ? 0 : MDB_CREATE;
    int rc = mdb_dbi_open(txn, kClientsDb, db_flags, &opened.clients);
    if (rc == 0)
        rc = mdb_dbi_open(txn, kFingerprintsDb, db_flags, &opened.fingerprints);
    if (rc == MDB_NOTFOUND) {
        return make_error(Errc::not_found, "registry " + dir + " is empty (run keytool init)");
    }
    if (rc != 0)
        return lmdb_error(rc, "registry " + dir);
    rc = mdb_txn_commit(setup.release());
    if (rc != 0)
        return lmdb_error(rc, "registry " + dir);

    if (mode == OpenMode::read_only) {
        if (int rc2 = mdb_txn_begin(raw, nullptr, MDB_RDONLY, &txn); rc2 != 0) {
            return lmdb_error(rc2, "registry " + dir);
        }
        mdb_txn_reset(txn);
        opened.reader.reset(txn);
    }
    identify(layout.data_file(), opened.identity);
    open_env = std::move(opened);
    return {};
}

// Readers notice a registry replaced on disk (new inode, or gone) and reopen.
Status LmdbRegistry::Impl::ensure_current() {
    if (mode == OpenMode::read_only) {
        const std::int64_t now = monotonic_millis();
        if (now >= next_check_millis) {
            next_check_millis = now + kReplacementCheckMillis;
            FileIdentity current;
            const bool present = identify(layout.data_file(), current);
            if (!open_env || !present || !(current == open_env->identity)) {
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

Status LmdbRegistry::Impl::begin_read(MDB_txn*& txn) {
    if (Status s = ensure_current(); !s)
        return s;
    if (mode == OpenMode::read_only) {
        txn = open_env->reader.get();
        int rc = mdb_txn_renew(txn);
        if (rc == MDB_MAP_RESIZED || rc == MDB_BAD_RSLOT) {
            ++reopen_count;
            if (Status s = open_environment(); !s)
                return s;
            txn = open_env->reader.get();
            rc = mdb_txn_renew(txn);
        }
        if (rc != 0)
            return lmdb_error(rc, "registry " + layout.dir);
        return {};
    }
    if (int rc = mdb_txn_begin(open_env->env.get(), nullptr, MDB_RDONLY, &txn); rc != 0) {
        return lmdb_error(rc, "registry " + layout.dir);
    }
    return {};
}

// Readers keep their one transaction handle for the next lookup.
void LmdbRegistry::Impl::end_read(MDB_txn* txn) {
    if (mode == OpenMode::read_only) {
        mdb_txn_reset(txn);
    } else {
        mdb_txn_abort(txn);
    }
}

namespace {

// A read transaction for the length of one lookup.
class ReadScope {
  public:
    explicit ReadScope(LmdbRegistry::Impl& impl) : impl_(impl) { status_ = impl.begin_read(txn_); }
    ~ReadScope() {
        if (status_.ok())
            impl_.end_read(txn_);
    }
    const Status& status() const { return status_; }
    MDB_txn* txn() const { return txn_; }
    // The snapshot this scope reads, or 0 (no cache) for keytool's writer.
    std::uint64_t snapshot() const {
        return impl_.mode == OpenMode::read_only ? impl_.snapshot_of(txn_) : 0;
    }

  private:
    LmdbRegistry::Impl& impl_;
    MDB_txn* txn_ = nullptr;
    Status status_;
};

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

Status LmdbRegistry::find(std::string_view id, ClientCredentials& out) {
    if (id.empty() || id.size() > kMaxClientIdLength) {
        return make_error(Errc::unknown_client, "unknown client");
    }
    ReadScope read(*impl_);
    if (!read.status())
        return read.status();
    const std::uint64_t snapshot = read.snapshot();
    if (impl_->cache.find(snapshot, id, out))
        return {};
    if (Status s = read_credentials(read.txn(), impl_->open_env->clients, id, out); !s)
        return s;
    if (snapshot != 0)
        impl_->cache.remember(snapshot, id, out);
    return {};
}

Status LmdbRegistry::find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                                         ClientCredentials& out) {
    ReadScope read(*impl_);
    if (!read.status())
        return read.status();
    const std::uint64_t snapshot = read.snapshot();
    if (impl_->cache.find(snapshot, fingerprint, id, out))
        return {};
    MDB_val key = mdb_value(fingerprint.bytes.data(), fingerprint.bytes.size());
    MDB_val value{};
    const int rc = mdb_get(read.txn(), impl_->open_env->fingerprints, &key, &value);
    if (rc == MDB_NOTFOUND)
        return make_error(Errc::unknown_client, "unknown certificate");
    if (rc != 0)
        return lmdb_error(rc, "reading certificate index");
    const std::string_view owner = as_view(value);
    if (!is_valid_client_id(owner)) {
        return make_error(Errc::registry_corrupt, "certificate index is corrupt");
    }
    if (Status s = read_credentials(read.txn(), impl_->open_env->clients, owner, out); !s) {
        return s;
    }
    // The index and the record must agree; a stale index entry is refused.
    if (!(out.certificate_fingerprint == fingerprint)) {
        return make_error(Errc::unknown_client, "unknown certificate");
    }
    id.assign(owner);
    if (snapshot != 0)
        impl_->cache.remember(snapshot, fingerprint, owner, out);
    return {};
}

Result<std::vector<ClientRecord>> LmdbRegistry::list() {
    ReadScope read(*impl_);
    if (!read.status())
        return read.status().error();
    MDB_cursor* raw = nullptr;
    if (int rc = mdb_cursor_open(read.txn(), impl_->open_env->clients, &raw); rc != 0) {
        return lmdb_error(rc, "listing clients");
    }
    MdbCursorPtr cursor(raw);
    std::vector<ClientRecord> records;
    MDB_val key{};
    MDB_val value{};
    int rc = mdb_cursor_get(raw, &key, &value, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(raw, &key, &value, MDB_NEXT)) {
        ClientRecord record;
        record.id.assign(as_view(key));
        if (!decode_credentials(as_view(value), record.credentials)) {
            return make_error(Errc::registry_corrupt, "registry record is corrupt");
        }
        records.push_back(std::move(record));
    }
    if (rc != MDB_NOTFOUND)
        return lmdb_error(rc, "listing clients");
    return records;
}

Status LmdbRegistry::scan(bool backward, const ClientVisitor& visit) {
    ReadScope read(*impl_);
    if (!read.status())
        return read.status();
    MDB_cursor* raw = nullptr;
    if (int rc = mdb_cursor_open(read.txn(), impl_->open_env->clients, &raw); rc != 0) {
        return lmdb_error(rc, "listing clients");
    }
    MdbCursorPtr cursor(raw);
    MDB_val key{};
    MDB_val value{};
    const MDB_cursor_op step = backward ? MDB_PREV : MDB_NEXT;
    int rc = mdb_cursor_get(raw, &key, &value, backward ? MDB_LAST : MDB_FIRST);
    ClientCredentials credentials;
    for (; rc == 0; rc = mdb_cursor_get(raw, &key, &value, step)) {
        if (!decode_credentials(as_view(value), credentials)) {
            return make_error(Errc::registry_corrupt, "registry record is corrupt");
        }
        if (!visit(as_view(key), credentials))
            return {};
    }
    if (rc != MDB_NOTFOUND)
        return lmdb_error(rc, "listing clients");
    return {};
}

Result<std::size_t> LmdbRegistry::count() {
    ReadScope read(*impl_);
    if (!read.status())
        return read.status().error();
    MDB_stat stat{};
    if (int rc = mdb_stat(read.txn(), impl_->open_env->clients, &stat); rc != 0) {
        return lmdb_error(rc, "counting clients");
    }
    return static_cast<std::size_t>(stat.ms_entries);
}

// The snapshot a lookup made now would read: the id of a fresh read
// transaction (the meta page can run ahead of what readers see).
std::uint64_t LmdbRegistry::generation() {
    ReadScope read(*impl_);
    if (!read.status())
        return ~std::uint64_t{0};
    return impl_->snapshot_of(read.txn());
}

namespace {

class LmdbWriter final : public RegistryWriter {
  public:
    LmdbWriter(MdbTxnPtr txn, MDB_dbi clients, MDB_dbi fingerprints)
        : txn_(std::move(txn)), clients_(clients), fingerprints_(fingerprints) {}

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

    Status commit() override {
        if (!txn_)
            return make_error(Errc::io_error, "transaction already finished");
        if (int rc = mdb_txn_commit(txn_.release()); rc != 0) {
            return lmdb_error(rc, "committing registry");
        }
        return {};
    }

  private:
    Status drop_fingerprint(const Fingerprint& fingerprint) {
        MDB_val key = mdb_value(fingerprint.bytes.data(), fingerprint.bytes.size());
        const int rc = mdb_del(txn_.get(), fingerprints_, &key, nullptr);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return lmdb_error(rc, "updating certificate index");
        return {};
    }

    MdbTxnPtr txn_;
    MDB_dbi clients_;
    MDB_dbi fingerprints_;
};

}  // namespace

Result<std::unique_ptr<RegistryWriter>> LmdbRegistry::begin_write() {
    if (impl_->mode != OpenMode::read_write) {
        return make_error(Errc::permission_denied, "registry is open read-only");
    }
    MDB_env* env = impl_->open_env->env.get();
    int dead_readers = 0;
    mdb_reader_check(env, &dead_readers);  // slots of crashed readers
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env, nullptr, 0, &txn); rc != 0) {
        return lmdb_error(rc, "registry " + impl_->layout.dir);
    }
    return std::unique_ptr<RegistryWriter>(
        new LmdbWriter(MdbTxnPtr(txn), impl_->open_env->clients, impl_->open_env->fingerprints));
}

}  // namespace keyauth
