// The servers' last-use files keytool serve was given (--last-use, once per
// host) and, with --etcd, what the fleet's hosts published there (keyauth-sync
// --publish-last-use, read again at most every 60 s), merged as keytool list
// merges them: the latest any of them records.
// "At least this recent": shown and filtered on, never a security decision.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "keyauth/fleet_last_use.hpp"
#include "keyauth/last_use.hpp"
#include "keyauth/result.hpp"

namespace keytool::console {

class LastUseRecords {
  public:
    // Every host's last use in etcd (keytool --etcd serve).
    using FleetSource = std::function<keyauth::Result<keyauth::FleetLastUse>()>;
    static constexpr std::chrono::seconds kFleetRereadInterval{60};

    explicit LastUseRecords(std::vector<std::string> paths = {}, FleetSource fleet = {});

    // Whether there are records: files given, or a host of the fleet that
    // publishes. The API then carries last_used and takes unused=.
    bool given() const noexcept { return !files_.empty() || !fleet_hosts_.empty(); }
    // Whether the fleet's are read (keytool --etcd serve).
    bool from_fleet() const noexcept { return static_cast<bool>(fleet_); }

    // Reads every file; the first that cannot be read is the error (keytool
    // serve then refuses to start rather than show a used client as unused).
    keyauth::Status load();

    // Reads again each file that changed since it was last read. A file that
    // cannot be read now keeps what it last held (older, so still "at least
    // this recent") and its error is returned, one message per file; then
    // the fleet's last read's warnings.
    std::vector<std::string> refresh();

    const keyauth::LastUseMap& merged() const noexcept { return merged_; }
    // The fleet's hosts as last read, with their markers (uses left out:
    // merged() holds them).
    const std::vector<keyauth::HostLastUse>& fleet_hosts() const noexcept { return fleet_hosts_; }
    // False: the markers could not be read, or a host was left out; which
    // hosts are stale is not known.
    bool fleet_markers_read() const noexcept { return fleet_markers_read_; }
    // The hosts left out of the last read (a shard or marker not as written):
    // the others' last use is shown, unused= is refused.
    const std::vector<std::string>& fleet_refused() const noexcept { return fleet_refused_; }

  private:
    // What stat says of a file: when any of it differs, the file is read again.
    struct Stamp {
        std::uint64_t device = 0;
        std::uint64_t inode = 0;
        std::int64_t size = -1;
        std::int64_t modified_ns = 0;
        bool operator==(const Stamp& other) const noexcept;
    };
    struct File {
        std::string path;
        Stamp stamp;
        // A change within the file system's clock tick of our read keeps its
        // time: such a file is read again at the next request, so no write
        // is missed for good.
        bool read_again = true;
        keyauth::LastUseMap uses;
    };

    keyauth::Status refresh_file(File& file);
    // The fleet's, if its interval is over: an error keeps what it last held.
    keyauth::Status refresh_fleet();

    std::vector<File> files_;
    keyauth::LastUseMap merged_;
    bool merge_again_ = false;  // a file was read since merged_ was made
    FleetSource fleet_;
    std::optional<std::chrono::steady_clock::time_point> fleet_read_at_;
    keyauth::LastUseMap fleet_uses_;  // every host's, merged
    std::vector<keyauth::HostLastUse> fleet_hosts_;
    bool fleet_markers_read_ = true;
    std::vector<std::string> fleet_refused_;
    std::string fleet_error_;  // the last read's, until one succeeds
    std::vector<std::string> fleet_warnings_;  // the last read's that succeeded
};

}  // namespace keytool::console
