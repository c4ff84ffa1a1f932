// Helpers shared by the unit tests and the fuzz targets: temporary
// directories, hand-made credentials, and the registry of live clients the
// unit tests check against (LiveClients). Free of CMocka so the fuzzers can
// use it too.
#pragma once

#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sodium.h>

#include "keyauth/client_record.hpp"
#include "keyauth/keyauth.h"
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

// Two token secrets, 64 hex digits each, for the clients the tests register.
inline constexpr std::string_view kSecret =
    "00112233445566778899aabbccddeeff0123456789abcdef0f1e2d3c4b5a6978";
inline constexpr std::string_view kOtherSecret =
    "ffeeddccbbaa99887766554433221100fedcba98765432100f1e2d3c4b5a6978";

// make_credentials(tag, ...) holding the hash of a token secret (64 hex digits).
inline keyauth::ClientCredentials credentials_with_secret(std::uint8_t tag, std::string_view secret,
                                                          std::int64_t not_before,
                                                          std::int64_t not_after) {
    keyauth::ClientCredentials c = make_credentials(tag, not_before, not_after);
    c.token_hash = hash_of_hex(secret);
    return c;
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
// A child's exit code, once it has exited; -1 if it did not exit.
inline int exit_code_of(pid_t pid) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

inline bool write_registry_in_child(const std::string& dir,
                                    const std::function<bool(keyauth::RegistryWriter&)>& change) {
    const pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0)
        _exit(write_registry(dir, change) ? 0 : 1);
    return exit_code_of(pid) == 0;
}

inline bool put_client(keyauth::RegistryWriter& writer, std::string id,
                       const keyauth::ClientCredentials& credentials, bool replace = false) {
    return writer.put(keyauth::ClientRecord{std::move(id), credentials}, replace).ok();
}

// A child process that opens the registry, waits for `start` (if given),
// opens a write transaction, puts `id`, tells the parent through `ready`,
// and commits once `go` says so (or after 300 ms without `go`).
struct ChildWriter {
    int start = -1;
    int ready = -1;
    int go = -1;
};

inline pid_t hold_write_in_child(const std::string& dir, const char* id, ChildWriter pipes) {
    const pid_t pid = fork();
    if (pid != 0)
        return pid;
    auto registry = keyauth::LmdbRegistry::open(dir, keyauth::OpenMode::read_write);
    if (!registry)
        _exit(2);
    char byte = 0;
    if (pipes.start >= 0 && read(pipes.start, &byte, 1) != 1)
        _exit(7);
    auto writer = (*registry)->begin_write();
    if (!writer || !put_client(**writer, id, make_credentials(0x55, 1, 2)))
        _exit(3);
    byte = 'r';
    if (write(pipes.ready, &byte, 1) != 1)
        _exit(4);
    if (pipes.go >= 0) {
        if (read(pipes.go, &byte, 1) != 1)
            _exit(5);
    } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    _exit((*writer)->commit().ok() ? 0 : 6);
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

// One client of LiveClients: its id, its token's secret (64 hex digits) and
// its validity.
struct LiveClient {
    std::string id;
    std::string_view secret;
    std::int64_t not_before;
    std::int64_t not_after;
};

// The unit tests' registry of live clients: written as keytool writes it,
// then opened as the servers open it, both as the RegistryReader that
// authenticate() is given and as the C facade's handle the NGINX module and
// the Mosquitto plugin hold. The clients' credentials are tagged 1, 2, 3...
// in the order given (make_credentials): a certificate fingerprint each.
class LiveClients {
  public:
    explicit LiveClients(const std::vector<LiveClient>& clients) {
        const bool written = write_registry(path(), [&](keyauth::RegistryWriter& writer) {
            std::uint8_t tag = 0;
            for (const LiveClient& c : clients) {
                const auto credentials =
                    credentials_with_secret(++tag, c.secret, c.not_before, c.not_after);
                if (!put_client(writer, c.id, credentials))
                    return false;
            }
            return true;
        });
        if (!written)
            return;
        reader_ = temp_.open_reader();
        keyauth_registry_open(path().c_str(), &handle_, nullptr, 0);
    }
    LiveClients(const LiveClients&) = delete;
    LiveClients& operator=(const LiveClients&) = delete;
    ~LiveClients() { keyauth_registry_close(handle_); }

    // Written and open both ways.
    bool ready() const { return reader_ != nullptr && handle_ != nullptr; }
    const std::string& path() const { return temp_.path(); }
    keyauth::RegistryReader& reader() const { return *reader_; }
    keyauth_registry_t* handle() const { return handle_; }
    // A change by another process, as keytool makes one while the servers
    // hold the registry open.
    bool change(const std::function<bool(keyauth::RegistryWriter&)>& change) const {
        return write_registry_in_child(path(), change);
    }

  private:
    TempRegistry temp_;
    std::unique_ptr<keyauth::RegistryReader> reader_;
    keyauth_registry_t* handle_ = nullptr;
};

}  // namespace keyauth_test
