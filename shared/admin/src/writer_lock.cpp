#include "keyauth/writer_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace keyauth {
namespace {

constexpr long kRetryMillis = 10;

Error lock_error(int err, const std::string& path) {
    return make_error(err == EACCES || err == EPERM ? Errc::permission_denied : Errc::io_error,
                      path + ": " + std::strerror(err));
}

bool try_lock(int fd, off_t byte, int& err) {
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = byte;
    lock.l_len = 1;
    if (fcntl(fd, F_OFD_SETLK, &lock) == 0)
        return true;
    err = errno;
    return false;
}

// The file locked is the one the path names once the lock is held: a
// keyauth-sync rebuild exchanges the registry's directory whole, holding
// the old one's lock, so a writer that waited on the old file locks the
// new one's instead of writing the new registry under the old lock.
bool still_named(int fd, const std::string& path) {
    struct stat held {};
    struct stat named {};
    return fstat(fd, &held) == 0 && lstat(path.c_str(), &named) == 0 &&
           held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

}  // namespace

Result<WriterLock> WriterLock::acquire(const std::string& path, Scope scope, long wait_millis) {
    for (long waited = 0;; waited += kRetryMillis) {
        UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd.valid())
            return lock_error(errno, path);
        // Whoever made it, it is the writer's alone.
        if (fchmod(fd.get(), 0600) != 0)
            return lock_error(errno, path);
        int err = 0;
        if (try_lock(fd.get(), static_cast<off_t>(scope), err)) {
            if (still_named(fd.get(), path))
                return WriterLock(std::move(fd));
            err = EAGAIN;  // replaced meanwhile: lock the file named now
        }
        if (err != EAGAIN && err != EACCES && err != EINTR)
            return lock_error(err, path);
        if (waited >= wait_millis) {
            return make_error(Errc::busy,
                              "registry is busy: another writer (keytool, keytool serve or "
                              "keyauth-sync) has held " +
                                  path + " for over " + std::to_string(wait_millis / 1000) + " s");
        }
        const timespec pause{0, kRetryMillis * 1000000};
        nanosleep(&pause, nullptr);
    }
}

}  // namespace keyauth
