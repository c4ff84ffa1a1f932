// Helpers shared by the unit tests and the fuzz targets: temporary
// directories, hand-made credentials, and a small registry of known clients.
// Free of CMocka so the fuzzers can use it too.
#pragma once

#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <sodium.h>

#include "keyauth/client_record.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "keyauth/registry_reader.hpp"
#include "keyauth/token.hpp"

namespace keyauth_test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
  public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/keyauth-unit.XXXXXX";
        if (mkdtemp(pattern.data()) == nullptr) {
            std::perror("mkdtemp");
            std::abort();
        }
        path_ = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() { remove_tree(path_); }

    const std::string& path() const { return path_; }
    std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

    static void remove_tree(const std::string& path) {
        nftw(
            path.c_str(),
            [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
            FTW_DEPTH | FTW_PHYS);
    }

  private:
    std::string path_;
};

// Credentials with recognisable contents: every byte of the hash is `tag`,
// every byte of the fingerprint is `tag + 1`.
inline keyauth::ClientCredentials make_credentials(std::uint8_t tag, std::int64_t not_before,
                                                   std::int64_t not_after) {
    keyauth::ClientCredentials c;
    c.token_hash.bytes.fill(tag);
    c.certificate_fingerprint.bytes.fill(static_cast<std::uint8_t>(tag + 1));
    c.serial.length = 16;
    for (std::uint8_t i = 0; i < c.serial.length; ++i) {
        c.serial.bytes[i] = static_cast<std::uint8_t>(tag ^ i);
    }
    c.validity = {not_before, not_after};
    c.issued_at = not_before;
    return c;
}

inline keyauth::Fingerprint fingerprint_filled(std::uint8_t byte) {
    keyauth::Fingerprint f;
    f.bytes.fill(byte);
    return f;
}

// A token for id with the secret given as 64 hex digits, and its hash.
inline std::string token_text(std::string_view id, std::string_view hex) {
    return std::string(id) + ":b:" + std::string(hex);
}

inline keyauth::TokenHash hash_of_hex(std::string_view hex) {
    keyauth::TokenSecret secret;
    for (std::size_t i = 0; i < secret.size(); ++i) {
        unsigned value = 0;
        std::sscanf(std::string(hex.substr(2 * i, 2)).c_str(), "%2x", &value);
        secret.data()[i] = static_cast<std::uint8_t>(value);
    }
    return keyauth::hash_token_secret(secret);
}

// Writes with a fresh read-write handle, committed, then closed: the way
// keytool writes. Returns false if anything failed.
inline bool write_registry(const std::string& dir,
                           const std::function<bool(keyauth::RegistryWriter&)>& change) {
    auto registry = keyauth::LmdbRegistry::open(dir, keyauth::OpenMode::create);
    if (!registry)
        return false;
    auto writer = (*registry)->begin_write();
    if (!writer)
        return false;
    if (!change(**writer))
        return false;
    return (*writer)->commit().ok();
}

// The same in a child process, as keytool would while a server holds the
// registry open read-only (LMDB wants one environment per file per process).
inline bool write_registry_in_child(const std::string& dir,
                                    const std::function<bool(keyauth::RegistryWriter&)>& change) {
    const pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0)
        _exit(write_registry(dir, change) ? 0 : 1);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

inline bool put_client(keyauth::RegistryWriter& writer, std::string id,
                       const keyauth::ClientCredentials& credentials, bool replace = false) {
    return writer.put(keyauth::ClientRecord{std::move(id), credentials}, replace).ok();
}

// A temporary directory holding an empty LMDB registry (no CA).
class TempRegistry {
  public:
    TempRegistry() {
        if (!create(dir_.path())) {
            std::fprintf(stderr, "cannot create a registry in %s\n", dir_.path().c_str());
            std::abort();
        }
    }
    static bool create(const std::string& dir) {
        return keyauth::LmdbRegistry::open(dir, keyauth::OpenMode::create).ok();
    }
    const std::string& path() const { return dir_.path(); }
    const TempDir& dir() const { return dir_; }
    // What a server opens.
    std::unique_ptr<keyauth::RegistryReader> open_reader() const {
        auto opened = keyauth::RegistryReader::open(dir_.path());
        return opened ? std::move(*opened) : nullptr;
    }
    std::unique_ptr<keyauth::LmdbRegistry> open(keyauth::OpenMode mode) const {
        auto opened = keyauth::LmdbRegistry::open(dir_.path(), mode);
        return opened ? std::move(*opened) : nullptr;
    }

  private:
    TempDir dir_;
};

}  // namespace keyauth_test
