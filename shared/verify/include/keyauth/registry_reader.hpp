// What the servers open: lookup.idx and commit.seq, mapped read-only. No
// LMDB, no lock, no wait: a lookup reads the copy the counter publishes and
// trusts it if the counter did not move meanwhile (else reads again).
#pragma once

#include <memory>
#include <string_view>

#include "keyauth/registry.hpp"

namespace keyauth {

class RegistryReader final : public LocalRegistry {
  public:
    static Result<std::unique_ptr<RegistryReader>> open(std::string_view dir);
    // As open(), for a server (NGINX's workers, Mosquitto): each opening
    // also refuses a registry a server's user owns (check_owner_for_servers).
    static Result<std::unique_ptr<RegistryReader>> open_for_server(std::string_view dir);
    ~RegistryReader() override;

    Status find(std::string_view id, ClientCredentials& out) override;
    // Prefetches the client's lookup.idx slot and record, then runs
    // meanwhile() while they load; what is read is checked as find() checks it.
    Status find_while(std::string_view id, ClientCredentials& out, Meanwhile meanwhile) override;
    Status find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                               ClientCredentials& out) override;
    // In id order with at most set_walk_range records held at once (see
    // registry_reader.cpp): a commit between two of its passes starts it over.
    Status scan(bool backward, const std::function<void()>& start_over,
                const ClientVisitor& visit) override;
    // The most records a walk holds at once (64 Ki; tests make it small).
    void set_walk_range(std::size_t records);
    // The published copy's count of clients: no walk, no copy of a record.
    Result<std::size_t> count() override;
    std::uint64_t generation() override;
    // commit.seq's counter for the state a lookup made now would read (every
    // commit on this host moves it by one): for monitoring. 0 if unreadable.
    std::uint64_t commit_sequence();
    // The pages of lookup.idx this process mapped, let go of (the page
    // cache keeps them): for one-shot reads of many clients, which would
    // otherwise keep all of it resident (keyauth-sync's rebuild, counting
    // which clients of a snapshot the host serves).
    void hand_back_pages();
    VerificationCache* verification_cache() override;
    FingerprintMemo* fingerprint_memo() override;

    struct Impl;

  private:
    explicit RegistryReader(std::unique_ptr<Impl> impl);
    static Result<std::unique_ptr<RegistryReader>> open_as(std::string_view dir, bool for_server);
    std::unique_ptr<Impl> impl_;
};

}  // namespace keyauth
