// keytool serve: the console's HTTP server (libmicrohttpd), one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "console_last_use.hpp"
#include "from_keytool.hpp"
#include "keyauth/registry_layout.hpp"
#include "keyauth/result.hpp"

namespace keytool::console {

inline constexpr std::uint16_t kDefaultPort = 5688;

struct ServeOptions {
    keyauth::RegistryLayout registry;
    std::string address = "127.0.0.1";  // an IPv4 or IPv6 literal
    std::uint16_t port = kDefaultPort;  // 0: any free port
    bool tls = false;                   // with the registry's server certificate
    // Other names the console answers to (Host and Origin), e.g. the server
    // certificate's, when it listens on every address or one not loopback.
    std::vector<std::string> hosts;
    // The servers' last-use files (--last-use, once per host): the API's
    // last_used and unused=. Each must be readable at start.
    std::vector<std::string> last_use_files;
    // With --etcd: every host's published last use (keyauth-sync
    // --publish-last-use); readable at start, then read at most every 60 s.
    LastUseRecords::FleetSource fleet_last_use;
};

// "ADDR:PORT" or "[V6]:PORT".
keyauth::Result<ServeOptions> parse_listen(std::string_view text, ServeOptions options);

// Refuses to serve the console's secrets in clear beyond this host (an
// address that is not loopback needs --tls), and a --host no Host can match.
keyauth::Status check_listen(const ServeOptions& options);

// Prints the one-time login link as the first line of stdout, then serves
// until SIGINT or SIGTERM, with the clients of store.
keyauth::Status serve(const ServeOptions& options, std::unique_ptr<RecordStore> store);

}  // namespace keytool::console
