// keyauth-sync: keeps this host's registry a replica of the fleet's registry
// of record in etcd. The only writer of that registry; the servers only read.
#include <signal.h>
#include <sodium.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "keyauth/etcd_client.hpp"
#include "keyauth/fleet_last_use.hpp"
#include "keyauth/host_name.hpp"
#include "last_use_publisher.hpp"
#include "replica.hpp"
#include "replica_directory.hpp"
#include "service_notify.hpp"

namespace {

constexpr const char* kUsage =
    "usage: keyauth-sync --etcd URL[,URL...] [--registry DIR] [--group G]\n"
    "                    [--etcd-cacert FILE] [--etcd-cert FILE --etcd-key FILE]\n"
    "                    [--etcd-user NAME --etcd-password-file FILE]\n"
    "                    [--digest-interval SECONDS] [--max-loss PERCENT]\n"
    "                    [--metrics ADDR:PORT [--health-max-stale SECONDS]]\n"
    "                    [--publish-last-use FILE[,FILE...] [--host-name NAME]\n"
    "                     [--publish-last-use-interval SECONDS]]\n"
    "                    [--accept-new-fleet] [--once | --check | --restore-etcd]\n"
    "\n"
    "Replicates the fleet's clients from etcd into this host's registry (the\n"
    "broker and NGINX read it as ever). --etcd defaults to $KEYAUTH_ETCD, the\n"
    "registry to $KEYAUTH_REGISTRY, else /var/lib/keyauth; --group G is the\n"
    "servers' group for a registry made here. --once catches up and exits;\n"
    "--check compares this registry with etcd by digest (exit 0 if equal).\n"
    "A rebuild from etcd that would remove more than --max-loss PERCENT (default\n"
    "50) of this host's clients is refused: the host keeps serving its last state\n"
    "and says HELD until etcd is restored or --accept-new-fleet accepts it.\n"
    "--restore-etcd writes this host's copy into an empty etcd (docs/FLEET.md).\n"
    "SIGUSR1 rebuilds the registry from etcd now (as a digest mismatch does).\n"
    "--metrics serves Prometheus text at /metrics and a health check at /healthz\n"
    "(503 when HELD, or when etcd has not answered for --health-max-stale, 30 s).\n"
    "--publish-last-use puts this host's servers' last-use files (keyauth_last_use,\n"
    "plugin_opt_last_use) into etcd every hour (--publish-last-use-interval, at most\n"
    "a week), for keytool --etcd list --unused, with a marker of when: a host that\n"
    "stops is named stale. The host's name (--host-name, else its own) names them.\n"
    "TLS and user also from KEYAUTH_ETCD_CACERT, _CERT, _KEY, _USER, _PASSWORD(_FILE).\n";

std::atomic<bool> stop_requested{false};

std::atomic<bool> rebuild_requested{false};

void on_signal(int) {
    stop_requested = true;
}

void on_rebuild_signal(int) {
    rebuild_requested = true;
}

int usage_error(const std::string& message) {
    std::fprintf(stderr, "keyauth-sync: %s\n%s", message.c_str(), kUsage);
    return 2;
}

// This host's name for its last-use shards: --host-name, else gethostname().
keyauth::Result<std::string> publishing_host_name(std::optional<std::string> given) {
    if (!given) {
        char name[256] = {};
        if (gethostname(name, sizeof name - 1) != 0)
            return keyauth::make_error(keyauth::Errc::io_error,
                                       "cannot read this host's name: give --host-name");
        given = name;
    }
    if (!keyauth::check_host_name(*given) || given->find('*') != std::string::npos)
        return keyauth::make_error(
            keyauth::Errc::invalid_argument,
            "--host-name needs a DNS name or an address, not '" + *given + "'");
    return *given;
}

int run(int argc, char** argv) {
    std::optional<std::string> endpoints;
    std::optional<std::string> registry;
    keysync::ReplicaOptions options;
    std::vector<std::pair<std::string, std::string>> etcd_flags;
    bool check = false;
    std::optional<std::string> metrics_address;
    std::chrono::seconds health_max_stale{30};
    bool restore = false;
    keysync::LastUsePublishOptions publishing;
    std::optional<std::string> host_name;
    for (int i = 1; i < argc; ++i) {
        const std::string word = argv[i];
        if (word == "--help" || word == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (word == "--once") {
            options.once = true;
            continue;
        }
        if (word == "--accept-new-fleet") {
            options.accept_new_fleet = true;
            continue;
        }
        if (word == "--restore-etcd") {
            restore = true;
            continue;
        }
        if (word == "--check") {
            check = true;
            continue;
        }
        if (word.rfind("--", 0) != 0 || i + 1 >= argc)
            return usage_error("unexpected " + word);
        const std::string name = word.substr(2);
        const std::string value = argv[++i];
        if (name == "etcd") {
            endpoints = value;
        } else if (name == "registry") {
            registry = value;
        } else if (name == "group") {
            options.group = value;
        } else if (name == "digest-interval") {
            const long seconds = std::strtol(value.c_str(), nullptr, 10);
            if (seconds < 1)
                return usage_error("--digest-interval needs a number of seconds");
            options.digest_interval = std::chrono::seconds(seconds);
        } else if (name == "metrics") {
            metrics_address = value;
        } else if (name == "health-max-stale") {
            char* end = nullptr;
            const long seconds = std::strtol(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || seconds < 1)
                return usage_error("--health-max-stale needs a number of seconds");
            health_max_stale = std::chrono::seconds(seconds);
        } else if (name == "max-loss") {
            char* end = nullptr;
            const long percent = std::strtol(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || percent < 0 || percent > 100)
                return usage_error("--max-loss needs a percentage from 0 to 100");
            options.max_loss_percent = static_cast<int>(percent);
        } else if (name == "publish-last-use") {
            if (keyauth::Status s = keysync::add_last_use_files(value, publishing.files); !s)
                return usage_error(s.error().message);
        } else if (name == "publish-last-use-interval") {
            char* end = nullptr;
            const long seconds = std::strtol(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || seconds < 1 ||
                seconds > keyauth::kMaxPublishIntervalSeconds)
                return usage_error("--publish-last-use-interval needs a number of seconds, at "
                                   "most " +
                                   std::to_string(keyauth::kMaxPublishIntervalSeconds) +
                                   " (a week)");
            publishing.interval = std::chrono::seconds(seconds);
        } else if (name == "host-name") {
            host_name = value;
        } else {
            etcd_flags.emplace_back(name, value);
        }
    }
    if (!endpoints) {
        if (const char* env = std::getenv("KEYAUTH_ETCD"); env != nullptr && *env != '\0')
            endpoints = env;
        else
            return usage_error("--etcd is required");
    }
    auto etcd_options = keyauth::etcd_options(*endpoints, etcd_flags);
    if (!etcd_options)
        return usage_error(etcd_options.error().message);
    options.layout = keyauth::resolve_registry(registry);
    options.connect_follower = [endpoints = *endpoints,
                                etcd_flags]() -> keyauth::Result<std::unique_ptr<keyauth::EtcdClient>> {
        auto again = keyauth::etcd_options(endpoints, etcd_flags);
        if (!again)
            return again.error();
        return keyauth::EtcdClient::connect(std::move(*again));
    };
    auto etcd = keyauth::EtcdClient::connect(std::move(*etcd_options));
    if (!etcd) {
        std::fprintf(stderr, "keyauth-sync: %s\n", etcd.error().message.c_str());
        return 1;
    }
    if (publishing.files.empty() &&
        (host_name || publishing.interval != keysync::kLastUsePublishInterval))
        return usage_error(
            "--host-name and --publish-last-use-interval go with --publish-last-use");
    if (!publishing.files.empty()) {
        auto host = publishing_host_name(host_name);
        if (!host)
            return usage_error(host.error().message);
        publishing.host = std::move(*host);
        publishing.registry_dir = options.layout.dir;
        publishing.connect = options.connect_follower;
        publishing.metrics = options.metrics;
    }
    options.rebuild_requested = [] { return rebuild_requested.exchange(false); };
    if (restore) {
        // The lock is inside the directory a link names, as run() takes it.
        auto followed = keysync::registry_behind_links(options.layout);
        if (!followed) {
            std::fprintf(stderr, "keyauth-sync: %s\n", followed.error().message.c_str());
            return 1;
        }
        options.layout = std::move(*followed);
    }
    keysync::Replica replica(**etcd, options);
    if (restore) {
        // Only with this host's keyauth-sync stopped: it holds the lock.
        auto lock = keysync::lock_replica(options.layout);
        if (!lock) {
            std::fprintf(stderr, "keyauth-sync: %s\n", lock.error().message.c_str());
            return 1;
        }
        std::string report;
        if (keyauth::Status s = replica.restore_etcd(report); !s) {
            std::fprintf(stderr, "keyauth-sync: %s\n", s.error().message.c_str());
            return 1;
        }
        std::printf("%s\n", report.c_str());
        return 0;
    }
    if (check) {
        std::string report;
        auto equal = replica.check(report);
        if (!equal) {
            std::fprintf(stderr, "keyauth-sync: %s\n", equal.error().message.c_str());
            return 1;
        }
        std::printf("%s %s\n", *equal ? "equal" : "DIFFERENT", report.c_str());
        return *equal ? 0 : 1;
    }
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction rebuild {};
    rebuild.sa_handler = on_rebuild_signal;
    sigaction(SIGUSR1, &rebuild, nullptr);
    std::unique_ptr<keysync::MetricsEndpoint> endpoint;
    if (metrics_address) {
        auto started = keysync::MetricsEndpoint::start(*metrics_address, options.metrics,
                                                       health_max_stale);
        if (!started) {
            std::fprintf(stderr, "keyauth-sync: %s\n", started.error().message.c_str());
            return 1;
        }
        endpoint = std::move(*started);
    }
    // Beside the loop, on a thread and an etcd connection of its own.
    std::unique_ptr<keysync::LastUsePublisher> publisher;
    if (!publishing.files.empty() && !options.once)
        publisher = std::make_unique<keysync::LastUsePublisher>(publishing);
    // Ready once a revision is served: resumed from this host's replica, or
    // first loaded from etcd; the watchdog fed while the loop is alive.
    keysync::ServiceNotifier systemd;
    const std::shared_ptr<const keysync::SyncMetrics> state = options.metrics;
    const keyauth::Status s =
        replica.run([] { return stop_requested.load(); },
                    [&] { systemd.loop_alive(state->applied_revision.load()); });
    systemd.stopping();
    if (!s) {
        std::fprintf(stderr, "keyauth-sync: %s\n", s.error().message.c_str());
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (sodium_init() < 0) {
        std::fputs("keyauth-sync: libsodium failed to initialize\n", stderr);
        return 1;
    }
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "keyauth-sync: internal error: %s\n", e.what());
        return 1;
    }
}
