#include <cstdio>

#include "audited_change.hpp"
#include "commands.hpp"
#include "fleet.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/issuance.hpp"
#include "record_store.hpp"

namespace keytool {

int run_del(const Invocation& invocation, const Arguments& arguments) {
    if (arguments.operands.size() != 1)
        return report_failure("del takes exactly one client id");
    const std::string& id = arguments.operands.front();
    AuditedChange change(keyauth::AuditAction::del, id, invocation);
    if (auto s = keyauth::check_client_id(id); !s)
        return change.fail(s.error());
    // --force on a replica: this host only, until keyauth-sync's next digest
    // check restores etcd's state (an emergency revocation with etcd down).
    const auto store = record_store(invocation);
    if (!arguments.flag("force")) {
        if (auto s = store->check_writable("delete clients from"); !s)
            return change.fail(s.error());
    }
    if (arguments.flag("force"))
        change.event().add("force", "yes");
    auto s = store->revoke(id);
    if (store->revision() != 0)
        change.event().revision = store->revision();
    if (!s)
        return change.fail(s.error());
    change.succeed();
    std::puts("deleted");
    return kExitOk;
}

}  // namespace keytool
