// keyauth-sync --publish-last-use: this host's servers' last-use files,
// published into etcd for keytool --etcd (keyauth/fleet_last_use.hpp), on a
// thread and an etcd connection of its own: never on the watcher's path,
// never holding the registry's writer (it reads what the servers read).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "keyauth/etcd_client.hpp"
#include "keyauth/result.hpp"
#include "metrics.hpp"

namespace keysync {

inline constexpr std::chrono::seconds kLastUsePublishInterval{3600};

struct LastUsePublishOptions {
    std::vector<std::string> files;  // the servers' last-use files on this host
    std::chrono::seconds interval = kLastUsePublishInterval;
    std::string host;          // this host's name in the keys
    std::string registry_dir;  // only its clients are published
    std::function<keyauth::Result<std::unique_ptr<keyauth::EtcdClient>>()> connect;
    std::shared_ptr<SyncMetrics> metrics;
};

// "a,b" -> {"a", "b"}, appended to files; an empty name is an error.
keyauth::Status add_last_use_files(std::string_view list, std::vector<std::string>& files);

class LastUsePublisher {
  public:
    // Publishes at once, then every interval, until destroyed.
    explicit LastUsePublisher(LastUsePublishOptions options);
    ~LastUsePublisher();
    LastUsePublisher(const LastUsePublisher&) = delete;
    LastUsePublisher& operator=(const LastUsePublisher&) = delete;

    // One pass: read the files, keep the registry's clients, put the shards
    // that changed, delete those no longer needed, then the host's marker.
    keyauth::Status publish_once();

  private:
    void loop();
    keyauth::Status load_published(const std::string& fleet_id);
    keyauth::Result<std::vector<std::string>> shards_to_publish();
    keyauth::Status reconcile(const std::string& fleet_id, const std::vector<std::string>& shards);
    keyauth::Status put_marker(const std::string& fleet_id);

    LastUsePublishOptions options_;
    std::unique_ptr<keyauth::EtcdClient> etcd_;
    // What etcd holds under this host's prefix, key -> value: read once at
    // start (and after a failure), then kept in step with each put.
    std::map<std::string, std::string> published_;
    std::string published_fleet_id_;  // "" : published_ not known
    std::string failure_;             // the streak's first message, "" when none

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace keysync
