// A host's replica of the fleet's registry: etcd -> this host's LMDB, with
// the etcd revision committed in the same transaction as the clients it
// describes. One loop, one writer; a restart is the loop starting from the
// stored revision.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "keyauth/etcd_client.hpp"
#include "keyauth/registry.hpp"
#include "keyauth/registry_layout.hpp"
#include "metrics.hpp"

namespace keysync {

struct ReplicaOptions {
    keyauth::RegistryLayout layout;
    std::optional<std::string> group;  // for a registry made here: the servers' group
    // How often etcd is asked, linearizably, whether it still has a quorum
    // (beside the watcher): the resolution of "last contact".
    std::chrono::milliseconds session{2000};
    // How often the whole registry is compared with etcd's by digest.
    std::chrono::seconds digest_interval{60};
    bool once = false;  // catch up with etcd, then return
    // A rebuild that would remove more than this share of the clients the
    // host serves is refused (held) until the operator accepts it: an
    // emptied or replaced etcd must not empty the fleet's hosts with it.
    int max_loss_percent = 50;
    bool accept_new_fleet = false;  // the next rebuild, whatever it loses
    // Polled: true once for each rebuild asked for from outside (SIGUSR1).
    std::function<bool()> rebuild_requested = [] { return false; };
    // A second connection to etcd, for the watcher's thread, which keeps
    // the registry served following etcd whatever the loop does (an
    // EtcdClient serves one thread). None: nothing follows.
    std::function<keyauth::Result<std::unique_ptr<keyauth::EtcdClient>>()> connect_follower;
    // What the replica says about itself (keyauth-sync --metrics reads it).
    std::shared_ptr<SyncMetrics> metrics = std::make_shared<SyncMetrics>();
};

class Replica {
  public:
    Replica(keyauth::EtcdClient& etcd, ReplicaOptions options);
    ~Replica();

    // The loop. Returns when should_stop() says so (or, with once, when
    // caught up); an error only for what retrying cannot mend. loop_alive()
    // is called every 20 ms while the loop waits, at each of its steps and
    // between the pages of a whole read of etcd (a minute at a million
    // clients): systemd's watchdog is fed from it, so it stops only when
    // the loop hangs.
    keyauth::Status run(const std::function<bool()>& should_stop,
                        const std::function<void()>& loop_alive);

    // Local digest against etcd's at the stored revision: true if equal.
    keyauth::Result<bool> check(std::string& report);

    // Writes this host's copy (its clients, CA certificate and fleet id)
    // into an etcd that holds no fleet: how a fleet whose store of record
    // was lost gets it back. The hosts then see their fleet again.
    keyauth::Status restore_etcd(std::string& report);

  private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace keysync
