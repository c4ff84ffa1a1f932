#include "record_store.hpp"

#include <cstdio>
#include <optional>
#include <string>

#include "commands.hpp"
#include "fleet.hpp"
#include "keyauth/client_listing.hpp"
#include "keyauth/lmdb_registry.hpp"

namespace keytool {
namespace {

// This host's registry, LMDB.
class LocalStore final : public RecordStore {
  public:
    explicit LocalStore(keyauth::RegistryLayout layout) : layout_(std::move(layout)) {}

    // The registry opened to judge it is the one the change that follows
    // uses: one opening a change, not two (each maps data.mdb and lookup.idx
    // and checks the index is current).
    keyauth::Status check_writable(std::string_view what) override {
        opened_.reset();
        unjudged_.reset();
        // Opening for writing would make a registry of any directory: judge it first.
        if (!keyauth::check_registry_directory(layout_.dir))
            return {};
        auto registry = keyauth::LmdbRegistry::open(layout_.dir, keyauth::OpenMode::read_write);
        if (!registry) {
            // The change's own open says why; if it succeeds a moment later
            // (the lock was busy), it judges the registry then.
            unjudged_ = std::string(what);
            return {};
        }
        if (auto s = refuse_on_replica(**registry, layout_, what); !s)
            return s;
        opened_ = std::move(*registry);
        return {};
    }

    keyauth::Status issue(const keyauth::CertificateAuthority& authority,
                          const keyauth::IssueRequest& request, std::int64_t now,
                          const keyauth::Delivery& deliver,
                          const std::function<void()>& undeliver) override {
        auto registry = open_to_write();
        if (!registry)
            return registry.error();
        return keyauth::issue_client(**registry, authority, request, now, deliver, undeliver);
    }

    keyauth::Status revoke(const std::string& id) override {
        auto registry = open_to_write();
        if (!registry)
            return registry.error();
        return keyauth::revoke_client(**registry, id);
    }

    keyauth::Result<bool> set_suspended(const std::string& id, bool suspended) override {
        auto registry = open_to_write();
        if (!registry)
            return registry.error();
        return keyauth::set_client_suspended(**registry, id, suspended);
    }

    keyauth::Result<std::unique_ptr<keyauth::LocalRegistry>> open_to_read() override {
        bool all_published = true;  // the console answers what is published either way
        return keyauth::open_registry_to_read(layout_.dir, all_published);
    }

    bool in_fleet() const override { return false; }

  private:
    // The registry check_writable opened, taken once; else opened afresh.
    keyauth::Result<std::unique_ptr<keyauth::LmdbRegistry>> open_to_write() {
        if (opened_)
            return std::move(opened_);
        // Opening for writing would make a registry of any directory: judge it first.
        if (auto s = keyauth::check_registry_directory(layout_.dir); !s)
            return s.error();
        auto registry = keyauth::LmdbRegistry::open(layout_.dir, keyauth::OpenMode::read_write);
        if (registry && unjudged_) {
            if (auto s = refuse_on_replica(**registry, layout_, *unjudged_); !s)
                return s.error();
        }
        return registry;
    }

    keyauth::RegistryLayout layout_;
    // One change at a time: keytool's commands, and the console, whose
    // server answers on one thread. A change refused after the check (a bad
    // id) leaves it open until the next check drops it: no lock is held.
    std::unique_ptr<keyauth::LmdbRegistry> opened_;
    // What check_writable could not judge, its open failing: the change's.
    std::optional<std::string> unjudged_;
};

// The fleet's registry of record in etcd: fleet.hpp's calls, one connection each.
class FleetStore final : public RecordStore {
  public:
    explicit FleetStore(EtcdTarget target) : target_(std::move(target)) {}

    keyauth::Status check_writable(std::string_view) override { return {}; }

    keyauth::Status issue(const keyauth::CertificateAuthority& authority,
                          const keyauth::IssueRequest& request, std::int64_t now,
                          const keyauth::Delivery& deliver,
                          const std::function<void()>& undeliver) override {
        revision_ = 0;
        return issue_in_fleet(target_, authority, request, now, deliver, undeliver, revision_);
    }

    keyauth::Status revoke(const std::string& id) override {
        revision_ = 0;
        return revoke_in_fleet(target_, id, revision_);
    }

    keyauth::Result<bool> set_suspended(const std::string& id, bool suspended) override {
        revision_ = 0;
        return suspend_in_fleet(target_, id, suspended, revision_);
    }

    keyauth::Result<std::unique_ptr<keyauth::LocalRegistry>> open_to_read() override {
        auto records = list_fleet(target_);
        if (!records)
            return records.error();
        return std::unique_ptr<keyauth::LocalRegistry>(
            std::make_unique<keyauth::ClientSnapshot>(std::move(*records)));
    }

    bool in_fleet() const override { return true; }

  private:
    EtcdTarget target_;
};

}  // namespace

std::unique_ptr<RecordStore> record_store(const Invocation& invocation) {
    if (invocation.etcd.enabled())
        return std::make_unique<FleetStore>(invocation.etcd);
    return std::make_unique<LocalStore>(invocation.registry);
}

keyauth::Result<std::unique_ptr<keyauth::LocalRegistry>> open_local_to_read(
    const keyauth::RegistryLayout& registry) {
    bool all_published = true;
    auto opened = keyauth::open_registry_to_read(registry.dir, all_published);
    if (opened && !all_published)
        std::fprintf(stderr,
                     "keytool: another writer holds %s: reading what the servers enforce (a "
                     "change it has not published yet is not shown)\n",
                     registry.writer_lock().c_str());
    return opened;
}

}  // namespace keytool
