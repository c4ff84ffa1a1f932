// keytool's side of the audit trail (keyauth/audit.hpp): one line per change
// a command attempts, made or refused, whichever way the command returns.
#pragma once

#include <string>
#include <vector>

#include "keyauth/audit.hpp"

namespace keytool {

struct Invocation;

class AuditedChange {
  public:
    // via=cli, the registry, and etcd=yes when the change goes to the fleet's.
    AuditedChange(keyauth::AuditAction action, std::string client_id,
                  const Invocation& invocation);
    // A change left without an outcome (an exception on its way to main) is
    // audited as failed.
    ~AuditedChange();
    AuditedChange(const AuditedChange&) = delete;
    AuditedChange& operator=(const AuditedChange&) = delete;

    keyauth::AuditEvent& event() { return event_; }

    // Audits the refusal in the words keytool prints, then prints them
    // (report_failure); kExitFailure.
    int fail(const std::string& message);
    int fail(const keyauth::Error& error);
    // Audits the change as made; kExitOk.
    int succeed();

  private:
    void record(keyauth::Status result);

    keyauth::AuditEvent event_;
    bool recorded_ = false;
};

// Host names as one audit value: "a.example,127.0.0.2".
std::string join_hosts(const std::vector<std::string>& hosts);

}  // namespace keytool
