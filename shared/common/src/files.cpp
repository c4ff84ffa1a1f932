#include "keyauth/files.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace keyauth {
namespace {

constexpr std::size_t kMaxSmallFile = 1 << 20;
constexpr std::size_t kMaxPasswordEntry = 1 << 20;

// ask(entry, buffer, size, result): getpwuid_r's or getpwnam_r's, its
// buffer grown while the entry does not fit. 0 with *user null: no such user.
template <class Ask>
int ask_password_entry(Ask&& ask, passwd& entry, std::vector<char>& buffer, passwd*& user) {
    buffer.resize(1024);
    for (;;) {
        const int err = ask(&entry, buffer.data(), buffer.size(), &user);
        if (err != ERANGE || buffer.size() >= kMaxPasswordEntry)
            return err;
        buffer.resize(buffer.size() * 2);
    }
}

}  // namespace

std::optional<std::string> name_of_user(uid_t uid) {
    passwd entry{};
    passwd* user = nullptr;
    std::vector<char> buffer;
    const auto by_uid = [uid](passwd* e, char* b, std::size_t n, passwd** r) {
        return getpwuid_r(uid, e, b, n, r);
    };
    const int err = ask_password_entry(by_uid, entry, buffer, user);
    if (err != 0 || user == nullptr)
        return std::nullopt;
    return std::string(user->pw_name);
}

std::string user_named(uid_t uid) {
    const std::string number = "uid " + std::to_string(uid);
    const auto name = name_of_user(uid);
    return name ? *name + " (" + number + ")" : number;
}

UserLookup uid_of_user(const char* name, uid_t& uid) {
    passwd entry{};
    passwd* user = nullptr;
    std::vector<char> buffer;
    const auto by_name = [name](passwd* e, char* b, std::size_t n, passwd** r) {
        return getpwnam_r(name, e, b, n, r);
    };
    const int err = ask_password_entry(by_name, entry, buffer, user);
    if (err != 0)
        return UserLookup::failed;
    if (user == nullptr)
        return UserLookup::absent;
    uid = user->pw_uid;
    return UserLookup::found;
}

Error file_error(int err, const std::string& path) {
    Errc code = Errc::io_error;
    if (err == EACCES || err == EPERM || err == EROFS)
        code = Errc::permission_denied;
    if (err == ENOENT || err == ENOTDIR)
        code = Errc::not_found;
    if (err == EEXIST)
        code = Errc::already_exists;
    return make_error(code, path + ": " + std::strerror(err));
}

Status fsync_directory(const std::string& dir) {
    UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid() || fsync(fd.get()) != 0)
        return file_error(errno, dir);
    return {};
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0)
            close(fd_);
        fd_ = other.release();
    }
    return *this;
}

UniqueFd::~UniqueFd() {
    if (fd_ >= 0)
        close(fd_);
}

int UniqueFd::release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

Result<std::string> read_small_file(const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
        return file_error(errno, path);
    struct stat st {};
    if (fstat(fd.get(), &st) != 0)
        return file_error(errno, path);
    if (!S_ISREG(st.st_mode) || static_cast<std::size_t>(st.st_size) > kMaxSmallFile) {
        return make_error(Errc::invalid_argument, path + " is not a small regular file");
    }
    return read_up_to(fd.get(), static_cast<std::size_t>(st.st_size), path);
}

Result<std::string> read_up_to(int fd, std::size_t limit, const std::string& path) {
    std::string text(limit, '\0');
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = read(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return file_error(errno, path);
        if (n == 0)
            break;
        done += static_cast<std::size_t>(n);
    }
    text.resize(done);
    return text;
}

}  // namespace keyauth
