// systemd's notification protocol (sd_notify(3)) without libsystemd: one
// datagram to $NOTIFY_SOCKET. keyauth-sync.service is Type=notify with a
// WatchdogSec=; elsewhere (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace keysync {

class ServiceNotifier {
  public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once.
    ServiceNotifier();

    // Called from the replica's loop, which calls it every 20 ms while it
    // waits: READY=1 once a revision is served (served_revision > 0),
    // WATCHDOG=1 every half of the watchdog's interval. A loop that hangs
    // stops feeding it, and systemd restarts the service.
    void loop_alive(std::int64_t served_revision);
    void stopping();

  private:
    bool send(const std::string& message) const;

    std::string socket_;  // "" : not under systemd
    std::chrono::microseconds watchdog_every_{0};
    std::chrono::steady_clock::time_point next_watchdog_{};
    bool ready_sent_ = false;
};

}  // namespace keysync
