#include <cstdio>

#include "audited_change.hpp"
#include "commands.hpp"
#include "fleet.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/issuance.hpp"
#include "record_store.hpp"

namespace keytool {
namespace {

// suspend and resume: one flag of the client's record, its credentials kept.
int set_suspended(const Invocation& invocation, const Arguments& arguments, bool suspended) {
    const char* command = suspended ? "suspend" : "resume";
    if (arguments.operands.size() != 1)
        return report_failure(std::string(command) + " takes exactly one client id");
    const std::string& id = arguments.operands.front();
    AuditedChange change(suspended ? keyauth::AuditAction::suspend : keyauth::AuditAction::resume,
                         id, invocation);
    if (auto s = keyauth::check_client_id(id); !s)
        return change.fail(s.error());
    const auto store = record_store(invocation);
    if (auto s = store->check_writable(suspended ? "suspend clients in" : "resume clients in"); !s)
        return change.fail(s.error());
    auto changed = store->set_suspended(id, suspended);
    if (store->revision() != 0)
        change.event().revision = store->revision();
    if (!changed && changed.error().code == keyauth::Errc::unknown_client)
        return change.fail("no client " + id);
    if (!changed)
        return change.fail(changed.error());
    if (!*changed)
        change.event().add("unchanged", "yes");
    change.succeed();
    if (*changed)
        std::printf("%s\n", suspended ? "suspended" : "resumed");
    else
        std::printf("%s\n", suspended ? "already suspended" : "not suspended: nothing to resume");
    return kExitOk;
}

}  // namespace

int run_suspend(const Invocation& invocation, const Arguments& arguments) {
    return set_suspended(invocation, arguments, true);
}

int run_resume(const Invocation& invocation, const Arguments& arguments) {
    return set_suspended(invocation, arguments, false);
}

}  // namespace keytool
