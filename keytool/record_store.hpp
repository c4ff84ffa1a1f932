// Where keytool's changes go and its reads come from: this host's registry,
// or, with --etcd, the fleet's registry of record in etcd (the CA key stays
// in --registry either way). gen, rotate, del, suspend and resume, and the
// console (keytool serve), all change clients through it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "keyauth/issuance.hpp"
#include "keyauth/registry.hpp"
#include "keyauth/registry_layout.hpp"

namespace keytool {

struct Invocation;

class RecordStore {
  public:
    virtual ~RecordStore() = default;

    // Refuses, before anything is tried, a change that would not last (this
    // host's replica of a fleet, without --etcd): the message names --etcd.
    // what: "register clients in", "delete clients from", ...
    virtual keyauth::Status check_writable(std::string_view what) = 0;
    virtual keyauth::Status issue(const keyauth::CertificateAuthority& authority,
                                  const keyauth::IssueRequest& request, std::int64_t now,
                                  const keyauth::Delivery& deliver,
                                  const std::function<void()>& undeliver) = 0;
    virtual keyauth::Status revoke(const std::string& id) = 0;
    // Whether this call changed the state.
    virtual keyauth::Result<bool> set_suspended(const std::string& id, bool suspended) = 0;
    // The clients as they stand now, to list and show.
    virtual keyauth::Result<std::unique_ptr<keyauth::LocalRegistry>> open_to_read() = 0;

    // Changes go to etcd (the audit trail says etcd=yes and the revision).
    virtual bool in_fleet() const = 0;
    // The etcd revision the last change got; 0: none, not known, or this host's registry.
    std::int64_t revision() const { return revision_; }

  protected:
    std::int64_t revision_ = 0;
};

// The fleet's when the invocation names etcd, else the registry's.
std::unique_ptr<RecordStore> record_store(const Invocation& invocation);

// This host's registry as keytool's commands read it (list, show, verify):
// keyauth::open_registry_to_read, saying in one line on stderr when another
// writer's writer.lock left the owner reading what the servers enforce.
// The console reads without a word (RecordStore::open_to_read).
keyauth::Result<std::unique_ptr<keyauth::LocalRegistry>> open_local_to_read(
    const keyauth::RegistryLayout& registry);

}  // namespace keytool
