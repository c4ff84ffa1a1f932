#include "console_server.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "console_api.hpp"
#include "console_assets.hpp"
#include "console_connections.hpp"
#include "console_requests.hpp"
#include "console_session.hpp"
#include "keyauth/bearer.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/files.hpp"
#include "keyauth/host_name.hpp"
#include "keyauth/registry.hpp"
#include "keyauth/shared_library.hpp"

namespace keytool::console {
namespace {

using keyauth::Errc;
using keyauth::make_error;

constexpr std::size_t kMaxBodyBytes = 4096;
// Slow clients: a connection silent this long is closed, a request not whole
// (headers and body) this long after it began is cut, an answer not sent
// this long after its request is cut, one still sent after the shorter time
// may be cut to make room, one holder (a local user, a remote address) holds
// at most so many, and all of them together so many more
// (console_connections.hpp).
constexpr unsigned kConnectionTimeoutSeconds = 5;
constexpr std::int64_t kRequestDeadlineMillis = 10'000;
constexpr std::int64_t kAnswerDeadlineMillis = 30'000;
constexpr std::int64_t kSlowAnswerMillis = 2'000;
constexpr unsigned kConnectionsPerHolder = 16;
constexpr unsigned kConnections = 256;
// libmicrohttpd's own limit, above ours: a connection must reach the guard,
// which makes room; the ones it cut linger until the server's next turn.
constexpr unsigned kConnectionsBeforeTheGuard = 2 * kConnections;
// GnuTLS: TLS 1.2 and 1.3 only.
constexpr const char* kTlsPriorities = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
constexpr const char* kStrictTransportSecurity = "max-age=31536000";
// Nothing but our own files: no inline script or style, no framing, no other host.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

struct Server {
    ServeOptions options;
    ConsoleApi api;
    ConsoleSessions sessions;
    LoginThrottle login_throttle;
    SlowClientGuard slow_clients;
    std::string authority;                 // "127.0.0.1:5688": the Host the link names
    std::vector<std::string> authorities;  // every Host we answer: it and --host's
    std::string scheme() const { return options.tls ? "https://" : "http://"; }
    std::string origin() const { return scheme() + authority; }
};

// libmicrohttpd's functions the console calls, bound from libmicrohttpd.so.12
// when serve starts: every other keytool command skips loading it and the
// GnuTLS chain it links (about 3 ms of every gen's start; keyauth-sync, a
// daemon, links it as usual).
struct MhdApi {
    decltype(&::MHD_start_daemon) start_daemon = nullptr;
    decltype(&::MHD_stop_daemon) stop_daemon = nullptr;
    decltype(&::MHD_get_daemon_info) get_daemon_info = nullptr;
    decltype(&::MHD_get_connection_info) get_connection_info = nullptr;
    decltype(&::MHD_get_connection_values) get_connection_values = nullptr;
    decltype(&::MHD_lookup_connection_value) lookup_connection_value = nullptr;
    decltype(&::MHD_create_response_from_buffer) create_response_from_buffer = nullptr;
    decltype(&::MHD_create_response_from_buffer_with_free_callback_cls)
        create_response_from_buffer_with_free_callback_cls = nullptr;
    decltype(&::MHD_add_response_header) add_response_header = nullptr;
    decltype(&::MHD_queue_response) queue_response = nullptr;
    decltype(&::MHD_destroy_response) destroy_response = nullptr;
};

// The soname of the libmicrohttpd the headers are (0.9.x).
constexpr const char* kMhdLibrary = "libmicrohttpd.so.12";
MhdApi bound_mhd;

// Every call below comes after serve() loaded it.
const MhdApi& mhd() {
    return bound_mhd;
}

keyauth::Status load_mhd() {
    auto lib = keyauth::SharedLibrary::open(kMhdLibrary);
    if (!lib)
        return make_error(Errc::io_error, "serve needs libmicrohttpd: " + lib.error().message);
    MhdApi api;
    for (keyauth::Status s :
         {lib->bind("MHD_start_daemon", api.start_daemon),
          lib->bind("MHD_stop_daemon", api.stop_daemon),
          lib->bind("MHD_get_daemon_info", api.get_daemon_info),
          lib->bind("MHD_get_connection_info", api.get_connection_info),
          lib->bind("MHD_get_connection_values", api.get_connection_values),
          lib->bind("MHD_lookup_connection_value", api.lookup_connection_value),
          lib->bind("MHD_create_response_from_buffer", api.create_response_from_buffer),
          lib->bind("MHD_create_response_from_buffer_with_free_callback_cls",
                    api.create_response_from_buffer_with_free_callback_cls),
          lib->bind("MHD_add_response_header", api.add_response_header),
          lib->bind("MHD_queue_response", api.queue_response),
          lib->bind("MHD_destroy_response", api.destroy_response)}) {
        if (!s)
            return s;
    }
    bound_mhd = api;
    return {};
}

// What MHD hands us in pieces: the request body, capped. It may hold the
// login secret or a new client's request: wiped when freed.
struct PendingRequest {
    WipedString body;
    bool too_large = false;
};

MHD_Result count_content_length(void* cls, MHD_ValueKind, const char* key, const char*) {
    if (strcasecmp(key, "Content-Length") == 0)
        ++*static_cast<int*>(cls);
    return MHD_YES;
}

// Two lengths for one body are how requests get smuggled past a proxy.
bool has_duplicate_content_length(MHD_Connection* connection) {
    int count = 0;
    mhd().get_connection_values(connection, MHD_HEADER_KIND, count_content_length, &count);
    return count > 1;
}

std::string peer_address(MHD_Connection* connection) {
    const MHD_ConnectionInfo* info =
        mhd().get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == nullptr || info->client_addr == nullptr)
        return {};
    char text[INET6_ADDRSTRLEN] = "";
    const sockaddr* address = info->client_addr;
    if (address->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text,
                  sizeof text);
    } else if (address->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text,
                  sizeof text);
    }
    return text;
}

std::string_view header(MHD_Connection* connection, MHD_ValueKind kind, const char* name) {
    const char* value = mhd().lookup_connection_value(connection, kind, name);
    return value == nullptr ? std::string_view() : std::string_view(value);
}

MHD_Result collect_query(void* cls, MHD_ValueKind, const char* key, const char* value) {
    static_cast<QueryParams*>(cls)->insert_or_assign(key, value == nullptr ? "" : value);
    return MHD_YES;
}

HttpResponse text_response(int status, std::string text) {
    return body_response(status, "text/plain; charset=utf-8",
                         keyauth::SecretString(std::move(text)));
}

HttpResponse unauthorized() {
    HttpResponse response = error_response(401, "log in with the link keytool serve printed");
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"keytool serve\"");
    return response;
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

// POST /api/v1/session {"login": SECRET}: the first right secret opens the
// session, answered once as a token the page keeps in sessionStorage. The
// secret is judged before the throttle: a local user sending wrong links
// from 127.0.0.1 must not lock the operator's browser (same address) out.
HttpResponse log_in(Server& server, MHD_Connection* connection, const PendingRequest& request) {
    const std::int64_t now = keyauth::unix_now();
    const std::string peer = peer_address(connection);
    auto secret = request.too_large ? keyauth::Result<keyauth::SecretString>(keyauth::make_error(
                                          Errc::invalid_argument, "the body is too large"))
                                    : login_secret(request.body);
    if (!secret)
        return error_response(secret.error());
    auto session = server.sessions.log_in(secret->view(), now);
    if (!session && !server.login_throttle.allowed(peer, now)) {
        HttpResponse response =
            error_response(429, "too many wrong login links from here; wait a minute");
        response.headers.emplace_back("Retry-After", "60");
        return response;
    }
    if (!session) {
        server.login_throttle.failed(peer, now);
        std::fprintf(stderr, "keytool serve: login refused (wrong or used link) from %s\n",
                     log_safe(peer).c_str());
        return error_response(401,
                              "this login link is wrong or was used already; restart keytool "
                              "serve for a new one");
    }
    std::fprintf(stderr, "keytool serve: login link used; session %s opened\n",
                 server.sessions.label().c_str());
    return json_response(201, {{"session", session->view()},
                               {"idle_seconds", kSessionIdleSeconds},
                               {"max_seconds", kSessionMaxSeconds}});
}

// Who the audit trail names for a change: the session, and where it came from.
ConsoleActor actor(const Server& server, MHD_Connection* connection) {
    return ConsoleActor{server.sessions.label(), peer_address(connection)};
}

// A change (and a login) must come from our page: when the browser says where
// it comes from, our own origin, under the name it reached us by (already one
// of ours). The session travels in a header no other page can make a browser
// send, so no CSRF token is needed beside it (docs/SECURITY.md).
bool same_origin(const Server& server, MHD_Connection* connection) {
    const std::string_view origin = header(connection, MHD_HEADER_KIND, "Origin");
    const std::string_view host = header(connection, MHD_HEADER_KIND, "Host");
    return origin.empty() || origin == server.scheme() + std::string(host);
}

// Authorization: Bearer <the session token>; never a cookie.
std::string_view session_token(MHD_Connection* connection) {
    return keyauth::bearer_token(header(connection, MHD_HEADER_KIND, "Authorization"))
        .value_or(std::string_view());
}

// ?format=zip or Accept: application/zip: new credentials as gen --zip's bundle.
bool wants_zip(MHD_Connection* connection, const QueryParams& query) {
    const auto format = query.find("format");
    return (format != query.end() && format->second == "zip") ||
           header(connection, MHD_HEADER_KIND, "Accept") == "application/zip";
}

HttpResponse route_api(Server& server, MHD_Connection* connection, std::string_view method,
                       std::string_view path, const PendingRequest& request) {
    const std::int64_t now = keyauth::unix_now();
    const bool get = method == "GET" || method == "HEAD";
    QueryParams query;
    mhd().get_connection_values(connection, MHD_GET_ARGUMENT_KIND, collect_query, &query);
    if (path == "/api/v1/session") {
        if (get)
            return json_response(200, {{"open", true}, {"label", server.sessions.label()}});
    } else if (path == "/api/v1/logout") {
        if (method == "POST") {
            server.sessions.log_out();
            return json_response(200, {{"logged_out", true}});
        }
    } else if (path == "/api/v1/clients") {
        if (get)
            return server.api.list_clients(query, now);
        if (method == "POST") {
            if (request.too_large)
                return error_response(413, "the body is larger than 4096 bytes");
            const std::string_view type = header(connection, MHD_HEADER_KIND, "Content-Type");
            if (!starts_with(type, "application/json"))
                return error_response(415, "send the body as application/json");
            return server.api.create_client(request.body, wants_zip(connection, query), now,
                                            actor(server, connection));
        }
    } else if (starts_with(path, "/api/v1/clients/")) {
        std::string_view id = path.substr(std::strlen("/api/v1/clients/"));
        // An id holds no '/': what follows one is the action.
        const auto slash = id.find('/');
        if (slash != std::string_view::npos) {
            const std::string_view action = id.substr(slash + 1);
            id = id.substr(0, slash);
            if (action != "rotate" && action != "suspend" && action != "resume")
                return error_response(404, "no such API path");
            if (method != "POST")
                return error_response(405, "method not allowed here");
            if (action == "suspend" || action == "resume")
                return server.api.suspend_client(id, action == "suspend", now,
                                                 actor(server, connection));
            if (request.too_large)
                return error_response(413, "the body is larger than 4096 bytes");
            const std::string_view type = header(connection, MHD_HEADER_KIND, "Content-Type");
            if (!request.body.empty() && !starts_with(type, "application/json"))
                return error_response(415, "send the body as application/json");
            return server.api.rotate_client(id, request.body, wants_zip(connection, query), now,
                                            actor(server, connection));
        }
        if (get)
            return server.api.show_client(id, now);
        if (method == "DELETE")
            return server.api.delete_client(id, actor(server, connection));
    } else if (path == "/api/v1/ca.pem") {
        if (get)
            return server.api.ca_certificate();
    } else if (path == "/api/v1/expiry-calendar") {
        if (get)
            return server.api.expiry_calendar(query, now);
    } else {
        return error_response(404, "no such API path");
    }
    return error_response(405, "method not allowed here");
}

HttpResponse route(Server& server, MHD_Connection* connection, std::string_view method,
                   std::string_view path, const PendingRequest& request) {
    // A name other than our own is a rebinding attack or a wrong link.
    const std::string_view host = header(connection, MHD_HEADER_KIND, "Host");
    if (std::find(server.authorities.begin(), server.authorities.end(), host) ==
        server.authorities.end())
        return text_response(421, "421 Misdirected Request: use " + server.origin() + "/\n");
    const bool get = method == "GET" || method == "HEAD";
    if (starts_with(path, "/api/")) {
        if (!get && !same_origin(server, connection))
            return error_response(403, "cross-origin request refused");
        if (path == "/api/v1/session" && method == "POST") {
            const std::string_view type = header(connection, MHD_HEADER_KIND, "Content-Type");
            if (!starts_with(type, "application/json"))
                return error_response(415, "send the body as application/json");
            return log_in(server, connection, request);
        }
        if (!server.sessions.has_session(session_token(connection), keyauth::unix_now()))
            return unauthorized();
        return route_api(server, connection, method, path, request);
    }
    // The page holds no secret: it is served to anyone, and logs in from the
    // link's fragment itself.
    if (!get)
        return error_response(405, "method not allowed here");
    for (const Asset& asset : console_assets()) {
        if (asset.path == path) {
            HttpResponse response;
            response.content_type = std::string(asset.content_type);
            response.static_body = asset.body;
            return response;
        }
    }
    return text_response(404, "404 Not Found\n");
}

void free_body(void* cls) {
    delete static_cast<keyauth::SecretString*>(cls);  // wipes the key or token
}

MHD_Response* make_reply(HttpResponse& response) {
    if (response.static_body) {
        return mhd().create_response_from_buffer(response.static_body->size(),
                                                 const_cast<char*>(response.static_body->data()),
                                                 MHD_RESPMEM_PERSISTENT);
    }
    auto* body = new keyauth::SecretString(std::move(response.body));
    const std::string_view bytes = body->view();
    MHD_Response* reply = mhd().create_response_from_buffer_with_free_callback_cls(
        bytes.size(), const_cast<char*>(bytes.data()), free_body, body);
    if (reply == nullptr)
        delete body;
    return reply;
}

MHD_Result send(const Server& server, MHD_Connection* connection, HttpResponse& response) {
    MHD_Response* reply = make_reply(response);
    if (reply == nullptr)
        return MHD_NO;
    mhd().add_response_header(reply, "Content-Type", response.content_type.c_str());
    mhd().add_response_header(reply, "Content-Security-Policy", kContentSecurityPolicy);
    mhd().add_response_header(reply, "X-Content-Type-Options", "nosniff");
    mhd().add_response_header(reply, "X-Frame-Options", "DENY");
    mhd().add_response_header(reply, "Referrer-Policy", "no-referrer");
    mhd().add_response_header(reply, "Cache-Control", "no-store");
    if (server.options.tls)
        mhd().add_response_header(reply, "Strict-Transport-Security", kStrictTransportSecurity);
    for (const auto& [name, value] : response.headers)
        mhd().add_response_header(reply, name.c_str(), value.c_str());
    const MHD_Result queued =
        mhd().queue_response(connection, static_cast<unsigned>(response.status), reply);
    mhd().destroy_response(reply);
    return queued;
}

std::int64_t steady_millis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                      const char*, const char* upload_data, size_t* upload_size, void** state) {
    auto& server = *static_cast<Server*>(cls);
    if (*state == nullptr) {
        *state = new PendingRequest();
        if (has_duplicate_content_length(connection)) {
            HttpResponse response = error_response(400, "more than one Content-Length header");
            std::fprintf(stderr, "keytool serve: %s %s %d\n", log_safe(method).c_str(),
                         log_safe(url).c_str(), response.status);
            return send(server, connection, response);
        }
        return MHD_YES;
    }
    auto* request = static_cast<PendingRequest*>(*state);
    if (*upload_size != 0) {
        if (request->body.size() + *upload_size > kMaxBodyBytes) {
            request->too_large = true;
        } else {
            request->body.append(upload_data, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    server.slow_clients.received(connection, steady_millis());
    HttpResponse response = route(server, connection, method, url, *request);
    // Method, path and status only: no header (the session) and no body (the login secret).
    std::fprintf(stderr, "keytool serve: %s %s %d\n", log_safe(method).c_str(),
                 log_safe(url).c_str(), response.status);
    return send(server, connection, response);
}

void on_completed(void* cls, MHD_Connection* connection, void** state, MHD_RequestTerminationCode) {
    delete static_cast<PendingRequest*>(*state);
    *state = nullptr;
    static_cast<Server*>(cls)->slow_clients.answered(connection, steady_millis());
}

// Before libmicrohttpd closes a connection's socket it says so here: the
// guard forgets it first, so it never cuts a descriptor reused since.
void on_connection(void* cls, MHD_Connection* connection, void**,
                   MHD_ConnectionNotificationCode code) {
    SlowClientGuard& guard = static_cast<Server*>(cls)->slow_clients;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        guard.closed(connection);
        return;
    }
    const MHD_ConnectionInfo* info =
        mhd().get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info != nullptr)
        guard.opened(connection, info->connect_fd,
                     connection_holder(info->connect_fd, peer_address(connection)),
                     steady_millis());
}

// The server's thread reads the cut connection's end and closes it.
void cut_connection(int fd) {
    shutdown(fd, SHUT_RDWR);
}

struct DaemonStop {
    void operator()(MHD_Daemon* daemon) const { mhd().stop_daemon(daemon); }
};

bool is_wildcard(const std::string& address) {
    return address == "0.0.0.0" || address == "::";
}

bool is_loopback(const std::string& address) {
    in_addr v4{};
    if (inet_pton(AF_INET, address.c_str(), &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    return inet_pton(AF_INET6, address.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

// "name:port", an IPv6 literal in brackets, as a browser sends it in Host.
std::string host_authority(const std::string& name, std::uint16_t port) {
    const bool v6 = name.find(':') != std::string::npos;
    return (v6 ? "[" + name + "]" : name) + ":" + std::to_string(port);
}

}  // namespace

keyauth::Result<ServeOptions> parse_listen(std::string_view text, ServeOptions options) {
    const keyauth::Error bad =
        make_error(Errc::invalid_argument, "--listen takes ADDR:PORT (127.0.0.1:5688, [::1]:5688)");
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return bad;
    std::string_view address = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (address.front() == '[') {
        if (address.size() < 3 || address.back() != ']')
            return bad;
        address = address.substr(1, address.size() - 2);
    }
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
        port > 65535) {
        return bad;
    }
    in6_addr probe{};
    const std::string literal(address);
    if (inet_pton(AF_INET, literal.c_str(), &probe) != 1 &&
        inet_pton(AF_INET6, literal.c_str(), &probe) != 1) {
        return make_error(Errc::invalid_argument,
                          "--listen needs an IP address, not a name: " + literal);
    }
    options.address = literal;
    options.port = static_cast<std::uint16_t>(port);
    return options;
}

keyauth::Status check_listen(const ServeOptions& options) {
    for (const std::string& name : options.hosts) {
        // Compared with Host as it is: a name or an address, no port, no wildcard.
        if (!keyauth::check_host_name(name) || name.find('*') != std::string::npos) {
            const std::string why =
                "--host takes a DNS name or an IP address, without a port or a wildcard: ";
            return make_error(Errc::invalid_argument, why + name);
        }
    }
    if (options.tls || is_loopback(options.address))
        return {};
    return make_error(Errc::invalid_argument,
                      "--listen " + options.address +
                          " is not a loopback address: add --tls, or the login link, the "
                          "session and every new key and token cross the network in clear");
}

keyauth::Status serve(const ServeOptions& options, std::unique_ptr<RecordStore> store) {
    if (keyauth::Status s = check_listen(options); !s)
        return s;
    if (keyauth::Status s = keyauth::check_registry_directory(options.registry.dir); !s)
        return s;
    if (keyauth::Status s = load_mhd(); !s)
        return s;
    LastUseRecords last_use(options.last_use_files, options.fleet_last_use);
    if (keyauth::Status s = last_use.load(); !s)
        return keyauth::make_error(s.code(), "--last-use: " + s.error().message);
    const bool in_fleet = store->in_fleet();
    Server server{options,
                  ConsoleApi(options.registry, std::move(store), std::move(last_use)),
                  ConsoleSessions(),
                  {},
                  SlowClientGuard({kRequestDeadlineMillis, kAnswerDeadlineMillis, kSlowAnswerMillis,
                                   kConnectionsPerHolder, kConnections},
                                  cut_connection),
                  {},
                  {}};

    sockaddr_storage address{};
    const bool v6 = options.address.find(':') != std::string::npos;
    if (v6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(options.port);
        inet_pton(AF_INET6, options.address.c_str(), &in6->sin6_addr);
    } else {
        auto* in4 = reinterpret_cast<sockaddr_in*>(&address);
        in4->sin_family = AF_INET;
        in4->sin_port = htons(options.port);
        inet_pton(AF_INET, options.address.c_str(), &in4->sin_addr);
    }

    keyauth::SecretString server_key;
    std::string server_cert;
    if (options.tls) {
        auto cert = keyauth::read_small_file(options.registry.server_cert());
        if (!cert)
            return cert.error();
        auto key = keyauth::read_small_file(options.registry.server_key());
        if (!key)
            return key.error();
        server_cert = std::move(*cert);
        server_key = keyauth::SecretString(std::move(*key));
    }

    // SIGINT and SIGTERM go to sigwait below, not to the server's thread.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (options.tls)
        flags |= MHD_USE_TLS;
    std::vector<MHD_OptionItem> tls_options;
    if (options.tls) {
        tls_options.push_back(
            {MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(server_key.view().data())});
        tls_options.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, server_cert.data()});
        tls_options.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(kTlsPriorities)});
    }
    tls_options.push_back({MHD_OPTION_END, 0, nullptr});
    errno = 0;
    std::unique_ptr<MHD_Daemon, DaemonStop> daemon(mhd().start_daemon(
        flags, options.port, nullptr, nullptr, on_request, &server, MHD_OPTION_SOCK_ADDR,
        reinterpret_cast<sockaddr*>(&address), MHD_OPTION_NOTIFY_COMPLETED, on_completed, &server,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, &server, MHD_OPTION_CONNECTION_LIMIT,
        kConnectionsBeforeTheGuard, MHD_OPTION_CONNECTION_TIMEOUT, kConnectionTimeoutSeconds,
        MHD_OPTION_ARRAY, tls_options.data(), MHD_OPTION_END));
    if (!daemon) {
        const int err = errno;
        return make_error(Errc::io_error,
                          "cannot listen on " + options.address + ":" +
                              std::to_string(options.port) +
                              (err != 0 ? std::string(": ") + std::strerror(err) : std::string()));
    }
    const MHD_DaemonInfo* bound = mhd().get_daemon_info(daemon.get(), MHD_DAEMON_INFO_BIND_PORT);
    const std::uint16_t port = bound != nullptr && bound->port != 0 ? bound->port : options.port;
    // On every address, this host's own loopback name; never any name at all.
    const std::string shown =
        is_wildcard(options.address) ? (v6 ? "::1" : "127.0.0.1") : options.address;
    server.authorities.push_back(host_authority(shown, port));
    for (const std::string& name : options.hosts)
        server.authorities.push_back(host_authority(name, port));
    server.authority = server.authorities.size() > 1 && !is_loopback(options.address)
                           ? server.authorities[1]
                           : server.authorities[0];

    std::printf("%s/#login=%s\n", server.origin().c_str(),
                std::string(server.sessions.login_secret()).c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "keytool serve: console of %s%s on %s (the link above works once)\n",
                 in_fleet ? "the fleet's registry in etcd, CA key in " : "registry ",
                 options.registry.dir.c_str(), server.origin().c_str());

    // Once a second, the requests past their deadline are cut.
    int signal_number = -1;
    const timespec sweep{1, 0};
    while (signal_number < 0) {
        signal_number = sigtimedwait(&stop_signals, nullptr, &sweep);
        if (signal_number < 0)
            server.slow_clients.cut_late(steady_millis());
    }
    std::fprintf(stderr, "keytool serve: stopping on signal %d\n", signal_number);
    daemon.reset();
    return {};
}

}  // namespace keytool::console
