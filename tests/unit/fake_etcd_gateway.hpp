// A canned etcd JSON gateway on loopback, for the unit tests of what talks
// to etcd: no etcd needed.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "unit_test.hpp"

namespace {

struct Answer {
    int status = 200;
    std::string body;
    // Sent without a length and the connection kept open until the gateway
    // ends: a watch stream that goes on.
    bool held_open = false;
};

// A socket listening on a free loopback port; `port` set to it.
int loopback_listener(int& port) {
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
    assert_int_equal(listen(listener, 16), 0);
    return listener;
}

// One HTTP/1.1 answer per connection (Connection: close), from `answer(path)`;
// the paths asked for are kept, in order, and the requests' bodies.
class FakeGateway {
  public:
    explicit FakeGateway(std::function<Answer(const std::string& path)> answer)
        : answer_(std::move(answer)), listener_(loopback_listener(port_)) {
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeGateway() {
        stopping_ = true;
        shutdown(listener_, SHUT_RDWR);
        close(listener_);
        thread_.join();
        for (const int connection : held_)
            close(connection);
    }

    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::vector<std::string> paths() {
        std::lock_guard<std::mutex> lock(mutex_);
        return paths_;
    }
    std::vector<std::string> bodies() {
        std::lock_guard<std::mutex> lock(mutex_);
        return bodies_;
    }

  private:
    void serve() {
        while (!stopping_) {
            const int connection = accept(listener_, nullptr, nullptr);
            if (connection < 0)
                return;
            std::string request;
            char buffer[4096];
            std::size_t header_end = std::string::npos;
            std::size_t body_length = 0;
            while (true) {
                const ssize_t got = read(connection, buffer, sizeof buffer);
                if (got <= 0)
                    break;
                request.append(buffer, static_cast<std::size_t>(got));
                if (header_end == std::string::npos &&
                    (header_end = request.find("\r\n\r\n")) != std::string::npos) {
                    const auto at = request.find("Content-Length: ");
                    if (at != std::string::npos && at < header_end)
                        body_length = std::stoul(request.substr(at + 16));
                }
                if (header_end != std::string::npos &&
                    request.size() >= header_end + 4 + body_length)
                    break;
            }
            const std::string path =
                request.substr(request.find(' ') + 1,
                               request.find(' ', request.find(' ') + 1) - request.find(' ') - 1);
            {
                std::lock_guard<std::mutex> lock(mutex_);
                paths_.push_back(path);
                bodies_.push_back(header_end == std::string::npos ? std::string()
                                                                  : request.substr(header_end + 4));
            }
            const Answer answer = answer_(path);
            if (answer.held_open) {
                const std::string response =
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + answer.body;
                (void)!write(connection, response.data(), response.size());
                held_.push_back(connection);
                continue;
            }
            const std::string response =
                "HTTP/1.1 " + std::to_string(answer.status) +
                " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                std::to_string(answer.body.size()) + "\r\n\r\n" + answer.body;
            (void)!write(connection, response.data(), response.size());
            close(connection);
        }
    }

    std::function<Answer(const std::string&)> answer_;
    int port_ = 0;  // before listener_, which sets it
    int listener_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::vector<std::string> paths_;
    std::vector<std::string> bodies_;
    std::vector<int> held_;
};

// An etcd member stopped (SIGSTOP) or hung: the kernel still accepts its
// connections, nothing reads or answers them.
class SilentMember {
  public:
    SilentMember() : listener_(loopback_listener(port_)) {}
    ~SilentMember() { close(listener_); }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  private:
    int port_ = 0;  // before listener_, which sets it
    int listener_ = -1;
};

}  // namespace
