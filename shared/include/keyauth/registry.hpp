// The registry of clients. ClientStore is the one interface every adapter
// uses; LmdbRegistry is the embedded, one-host implementation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyauth/client_record.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

class ClientStore {
  public:
    virtual ~ClientStore() = default;

    // Errc::unknown_client when absent. Never allocates on success.
    virtual Status find(std::string_view id, ClientCredentials& out) = 0;
    // Fills the id (at most kMaxClientIdLength bytes) of the certificate's owner.
    virtual Status find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                                       ClientCredentials& out) = 0;
    virtual Result<std::vector<ClientRecord>> list() = 0;
    // Changes whenever a write commits or the store is replaced: a cheap
    // "has anything changed" for callers that cache verdicts.
    virtual std::uint64_t generation() = 0;
};

// read_only: the servers; they write nothing anywhere and take no lock.
// read_write: keytool on an existing registry (upgrading one made by 0.1).
// create: provisioning, which may make the data file.
enum class OpenMode { read_only, read_write, create };

// Is dir a registry a server can open (a directory holding data.mdb and
// commit.seq), judged without opening it: opening as root would create files.
Status check_registry_directory(std::string_view dir);

// Applies writes in one transaction, exclusive across processes, committed
// only by commit(). Destroying it uncommitted rolls everything back.
class RegistryWriter {
  public:
    virtual ~RegistryWriter() = default;
    virtual Status find(std::string_view id, ClientCredentials& out) = 0;
    // Refused with Errc::already_exists unless replace; replacing drops the
    // old certificate's fingerprint from the index.
    virtual Status put(const ClientRecord& record, bool replace) = 0;
    virtual Status erase(std::string_view id) = 0;
    // Every client and index entry (a replica rebuilding from its source).
    virtual Status erase_all() = 0;
    // Bookkeeping beside the clients, committed with them in the same
    // transaction (a replica's position in its source). Servers never read it.
    virtual Status put_meta(std::string_view key, std::string_view value) = 0;
    virtual Result<std::optional<std::string>> find_meta(std::string_view key) = 0;
    virtual Status commit() = 0;
};

class LmdbRegistry final : public ClientStore {
  public:
    // Writers (read_write, create) leave data.mdb 0640, commit.seq 0640
    // (both in data.mdb's group) and writer.lock 0600, and remove 0.1's
    // lock.mdb; each write and each keytool read holds writer.lock.
    static Result<std::unique_ptr<LmdbRegistry>> open(std::string_view dir, OpenMode mode);
    ~LmdbRegistry() override;

    Status find(std::string_view id, ClientCredentials& out) override;
    Status find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                               ClientCredentials& out) override;
    Result<std::vector<ClientRecord>> list() override;
    std::uint64_t generation() override;

    Result<std::unique_ptr<RegistryWriter>> begin_write();

    // Walks one snapshot in id order (from the last id backward), until visit
    // returns false: paging without loading the whole registry. A reader
    // that meets a commit reads again: start_over() resets what visit kept.
    using ClientVisitor = std::function<bool(std::string_view id, const ClientCredentials&)>;
    Status scan(bool backward, const std::function<void()>& start_over,
                const ClientVisitor& visit);
    Result<std::size_t> count();

    struct Impl;

  private:
    explicit LmdbRegistry(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// keytool's reads: as the writer where the caller may write the registry
// directory (which also upgrades one made by keyauth 0.1), else as a server.
Result<std::unique_ptr<LmdbRegistry>> open_registry_to_read(std::string_view dir);

}  // namespace keyauth
