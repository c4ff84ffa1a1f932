#include "legacy_upgrade.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "commit_sequence.hpp"
#include "keyauth/files.hpp"
#include "lmdb_handles.hpp"

namespace keyauth {

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
    mdb_env_set_maxdbs(raw, 3);
    // Without lock.mdb, which the servers' group could write: LMDB then
    // takes the newest meta page, not a snapshot a lock file might pin.
    if (int rc = mdb_env_open(raw, dir.c_str(), MDB_NOTLS | MDB_RDONLY | MDB_NOLOCK, 0600);
        rc != 0)
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

}  // namespace keyauth
