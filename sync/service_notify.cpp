#include "service_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace keysync {

ServiceNotifier::ServiceNotifier() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    // A path, or '@' for an abstract socket (what systemd hands out).
    if (socket != nullptr && (socket[0] == '/' || socket[0] == '@'))
        socket_ = socket;
    const char* usec = std::getenv("WATCHDOG_USEC");
    const char* pid = std::getenv("WATCHDOG_PID");
    // WATCHDOG_PID names the process systemd watches: not ours if another.
    const bool ours = pid == nullptr || std::strtoll(pid, nullptr, 10) == getpid();
    if (usec != nullptr && ours) {
        const long long interval = std::strtoll(usec, nullptr, 10);
        if (interval > 0)
            watchdog_every_ = std::chrono::microseconds(interval / 2);
    }
}

bool ServiceNotifier::send(const std::string& message) const {
    if (socket_.empty())
        return false;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_.size() >= sizeof address.sun_path)
        return false;
    std::memcpy(address.sun_path, socket_.data(), socket_.size());
    if (address.sun_path[0] == '@')
        address.sun_path[0] = '\0';
    const socklen_t length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    const ssize_t sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                                  reinterpret_cast<const sockaddr*>(&address), length);
    ::close(fd);
    return sent == static_cast<ssize_t>(message.size());
}

void ServiceNotifier::loop_alive(std::int64_t served_revision) {
    if (socket_.empty())
        return;
    if (served_revision > 0 && !ready_sent_) {
        ready_sent_ =
            send("READY=1\nSTATUS=serving etcd revision " + std::to_string(served_revision));
    }
    if (watchdog_every_.count() == 0)
        return;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_watchdog_)
        return;
    if (send("WATCHDOG=1"))
        next_watchdog_ = now + watchdog_every_;
}

void ServiceNotifier::stopping() {
    send("STOPPING=1");
}

}  // namespace keysync
