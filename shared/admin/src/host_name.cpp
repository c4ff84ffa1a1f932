#include "keyauth/host_name.hpp"

#include <arpa/inet.h>

namespace keyauth {

namespace {

// One DNS label: 1..63 letters, digits and inner hyphens.
bool is_dns_label(std::string_view label) {
    if (label.empty() || label.size() > 63)
        return false;
    if (label.front() == '-' || label.back() == '-')
        return false;
    for (char c : label) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool is_dns_name(std::string_view host) {
    if (host.size() > 253)
        return false;
    // A wildcard only as a whole first label of a name with at least two more.
    const bool wildcard = host.substr(0, 2) == "*.";
    if (wildcard)
        host.remove_prefix(2);
    std::size_t labels = 0;
    while (true) {
        const std::size_t dot = host.find('.');
        if (!is_dns_label(host.substr(0, dot)))
            return false;
        ++labels;
        if (dot == std::string_view::npos)
            break;
        host.remove_prefix(dot + 1);
    }
    return wildcard ? labels >= 2 : labels > 0;
}

}  // namespace

bool is_ip_address(const std::string& text) {
    unsigned char address[16];
    return inet_pton(AF_INET, text.c_str(), address) == 1 ||
           inet_pton(AF_INET6, text.c_str(), address) == 1;
}

Status check_host_name(std::string_view host) {
    const std::string text(host);
    // inet_pton reads a C string: a NUL would hide whatever follows it.
    if (host.find('\0') == std::string_view::npos) {
        if (is_ip_address(text))
            return {};
        if (is_dns_name(host))
            return {};
    }
    std::string shown;
    for (char c : host)
        shown += (c > 0x20 && c < 0x7f) ? c : '?';
    return make_error(Errc::invalid_argument,
                      "host \"" + shown + "\" is neither an IP address nor a DNS name");
}

}  // namespace keyauth
