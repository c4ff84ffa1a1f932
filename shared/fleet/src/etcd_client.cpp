#include "keyauth/etcd_client.hpp"

#include <curl/curl.h>
#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "keyauth/files.hpp"
#include "keyauth/json_text.hpp"
#include "keyauth/shared_library.hpp"

namespace keyauth {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// gRPC status codes the gateway passes through.
constexpr int kGrpcPermissionDenied = 7;
constexpr int kGrpcOutOfRange = 11;
constexpr int kGrpcUnavailable = 14;
constexpr int kGrpcUnauthenticated = 16;
constexpr int kGrpcDeadlineExceeded = 4;
constexpr std::size_t kRefusedRounds = 3;

// A request of one key or a transaction, or a page of a whole prefix (a
// load, a rebuild, a digest check: megabytes).
enum class Transfer { small, bulk };
// A page may take several request budgets (a slow link); what stops a
// member that hangs is its sending less than this many bytes a second for
// a slice.
constexpr int kBulkBudgets = 6;
constexpr long kBulkLowSpeed = 16 * 1024;
constexpr long kBulkSilentSlices = 5;
// The most an answer may hold, so that a member (or anyone on an http://
// path) answering without end cannot grow the process until the OOM killer
// acts. Any answer: a single value etcd accepts (--max-request-bytes, 1.5
// MiB by default) or a page of 16 usage shards (5.5 MiB), with room. A page
// of clients: that, and per key a client's key and value base64'd with the
// JSON around them (~600 bytes). A range without a limit (a host's own
// usage shards, keys changed since): tens of MB at a million clients.
constexpr std::size_t kAnswerBytes = 8u << 20;
constexpr std::size_t kAnswerBytesPerKey = 1024;
constexpr std::size_t kWholeRangeAnswerBytes = 256u << 20;
// A line of the watch stream has no cap: it is one response, all of a
// revision's events (a `del --prefix` of a million clients: 92 MB), and a
// line cut would be watched again and cut again, the host stalled at that
// revision while it still reported contact. A member streaming without end
// is stopped by the unit's MemoryMax= instead.

// libcurl's functions this client calls, bound from libcurl.so.4 on the first
// connect: a keytool command without --etcd never loads libcurl and the
// thirty libraries it links (about 2 ms of every gen's start).
struct CurlApi {
    decltype(&::curl_version_info) version_info = nullptr;
    decltype(&::curl_global_init) global_init = nullptr;
    decltype(&::curl_easy_init) easy_init = nullptr;
    decltype(&::curl_easy_reset) easy_reset = nullptr;
    decltype(&::curl_easy_setopt) easy_setopt = nullptr;
    decltype(&::curl_easy_perform) easy_perform = nullptr;
    decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
    decltype(&::curl_easy_strerror) easy_strerror = nullptr;
    decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
    decltype(&::curl_slist_append) slist_append = nullptr;
    decltype(&::curl_slist_free_all) slist_free_all = nullptr;
    decltype(&::curl_multi_init) multi_init = nullptr;
    decltype(&::curl_multi_add_handle) multi_add_handle = nullptr;
    decltype(&::curl_multi_perform) multi_perform = nullptr;
    decltype(&::curl_multi_info_read) multi_info_read = nullptr;
    decltype(&::curl_multi_poll) multi_poll = nullptr;
    decltype(&::curl_multi_remove_handle) multi_remove_handle = nullptr;
    decltype(&::curl_multi_cleanup) multi_cleanup = nullptr;
};

// The soname libcurl has had since 7.16; the headers are its.
constexpr const char* kCurlLibrary = "libcurl.so.4";
CurlApi bound_curl;

Status bind_curl(const SharedLibrary& lib, CurlApi& api) {
    for (Status s : {lib.bind("curl_version_info", api.version_info),
                     lib.bind("curl_global_init", api.global_init),
                     lib.bind("curl_easy_init", api.easy_init),
                     lib.bind("curl_easy_reset", api.easy_reset),
                     lib.bind("curl_easy_setopt", api.easy_setopt),
                     lib.bind("curl_easy_perform", api.easy_perform),
                     lib.bind("curl_easy_getinfo", api.easy_getinfo),
                     lib.bind("curl_easy_strerror", api.easy_strerror),
                     lib.bind("curl_easy_cleanup", api.easy_cleanup),
                     lib.bind("curl_slist_append", api.slist_append),
                     lib.bind("curl_slist_free_all", api.slist_free_all),
                     lib.bind("curl_multi_init", api.multi_init),
                     lib.bind("curl_multi_add_handle", api.multi_add_handle),
                     lib.bind("curl_multi_perform", api.multi_perform),
                     lib.bind("curl_multi_info_read", api.multi_info_read),
                     lib.bind("curl_multi_poll", api.multi_poll),
                     lib.bind("curl_multi_remove_handle", api.multi_remove_handle),
                     lib.bind("curl_multi_cleanup", api.multi_cleanup)}) {
        if (!s)
            return s;
    }
    return {};
}

// Every call below comes after EtcdClient::connect loaded it.
const CurlApi& libcurl() {
    return bound_curl;
}

struct CurlEasyFree {
    void operator()(CURL* p) const { libcurl().easy_cleanup(p); }
};
using CurlPtr = std::unique_ptr<CURL, CurlEasyFree>;
struct CurlListFree {
    void operator()(curl_slist* p) const { libcurl().slist_free_all(p); }
};
using CurlListPtr = std::unique_ptr<curl_slist, CurlListFree>;

// Loads and initializes libcurl once per process; the same verdict after.
Status load_curl_once() {
    static std::once_flag once;
    static Status loaded;
    std::call_once(once, [] {
        auto lib = SharedLibrary::open(kCurlLibrary);
        if (!lib) {
            loaded = Error{Errc::io_error, "etcd needs libcurl: " + lib.error().message};
            return;
        }
        CurlApi api;
        loaded = bind_curl(*lib, api);
        if (!loaded)
            return;
        // 7.85: CURLOPT_PROTOCOLS_STR, which keeps every transfer to http
        // and https (an older one would ignore it); a thread-safe global init.
        const curl_version_info_data* version = api.version_info(CURLVERSION_NOW);
        if (version == nullptr || version->version_num < 0x075500) {
            loaded = Error{Errc::io_error,
                           std::string("etcd needs libcurl 7.85 or later, found ") +
                               (version != nullptr ? version->version : "an unknown one")};
            return;
        }
        if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            loaded = Error{Errc::io_error, "etcd: libcurl could not be initialized"};
            return;
        }
        bound_curl = api;
    });
    return loaded;
}

std::string base64(std::string_view bytes) {
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                      bytes.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1);  // the NUL sodium writes
    return out;
}

bool unbase64(std::string_view text, std::string& out) {
    out.assign(text.size(), '\0');
    std::size_t length = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &length, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        return false;
    }
    out.resize(length);
    return true;
}

// proto3's JSON writes 64-bit integers as strings and leaves out zeros.
std::int64_t int_field(const json& object, const char* name) {
    auto it = object.find(name);
    if (it == object.end())
        return 0;
    if (it->is_string())
        return std::strtoll(it->get<std::string>().c_str(), nullptr, 10);
    if (it->is_number_integer())
        return it->get<std::int64_t>();
    return 0;
}

// A uint64 id (cluster, member) as decimal text, however the gateway wrote it.
std::string id_field(const json& object, const char* name) {
    auto it = object.find(name);
    if (it == object.end())
        return "";
    return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string bytes_field(const json& object, const char* name) {
    auto it = object.find(name);
    std::string out;
    if (it != object.end() && it->is_string() && !unbase64(it->get<std::string>(), out))
        throw std::runtime_error(std::string("etcd sent a bad base64 ") + name);
    return out;
}

EtcdKeyValue key_value_of(const json& kv) {
    return EtcdKeyValue{bytes_field(kv, "key"), bytes_field(kv, "value"),
                        int_field(kv, "create_revision"), int_field(kv, "mod_revision")};
}

std::string mebibytes(std::size_t bytes) {
    return std::to_string(bytes >> 20) + " MiB";
}

// One HTTP exchange: curl's verdict, the status and the body, which may
// hold `most_bytes` at most.
struct Exchange {
    CURLcode transport = CURLE_OK;
    long status = 0;
    std::string body;
    std::size_t most_bytes = kAnswerBytes;
    bool too_large = false;  // the transfer was cut there
};

size_t append_body(char* data, size_t size, size_t count, void* user) {
    auto& exchange = *static_cast<Exchange*>(user);
    if (size * count > exchange.most_bytes - exchange.body.size()) {
        exchange.too_large = true;
        return 0;  // curl aborts the transfer
    }
    exchange.body.append(data, size * count);
    return size * count;
}

// What a failed answer means for the next try.
enum class Next { done, other_endpoint, authenticate, give_up };

struct Failure {
    Next next = Next::give_up;
    Error error;
};

std::optional<std::string> env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
        return std::nullopt;
    return std::string(value);
}

}  // namespace

struct EtcdClient::Impl {
    EtcdOptions options;
    std::size_t current = 0;  // the endpoint that answered last
    CurlPtr handle;
    SecretString token;  // etcd's auth token, when a user is set

    void set_common(CURL* curl, const std::string& url) const {
        libcurl().easy_setopt(curl, CURLOPT_URL, url.c_str());
        libcurl().easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        libcurl().easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
        libcurl().easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
        libcurl().easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        if (!options.ca_cert.empty())
            libcurl().easy_setopt(curl, CURLOPT_CAINFO, options.ca_cert.c_str());
        if (!options.client_cert.empty())
            libcurl().easy_setopt(curl, CURLOPT_SSLCERT, options.client_cert.c_str());
        if (!options.client_key.empty())
            libcurl().easy_setopt(curl, CURLOPT_SSLKEY, options.client_key.c_str());
    }

    CurlListPtr headers() const {
        curl_slist* list = libcurl().slist_append(nullptr, "Content-Type: application/json");
        if (!token.view().empty()) {
            // The token is a credential: built in a wiped string.
            const SecretString header("Authorization: " + std::string(token.view()));
            list = libcurl().slist_append(list, header.view().data());
        }
        return CurlListPtr(list);
    }

    Exchange post(const std::string& endpoint, std::string_view path, std::string_view body,
                  std::chrono::milliseconds timeout, Transfer transfer = Transfer::small,
                  std::size_t most_bytes = kAnswerBytes) {
        if (!handle)
            handle.reset(libcurl().easy_init());
        Exchange out;
        out.most_bytes = most_bytes;
        if (!handle) {  // out of memory: a transport failure like any other
            out.transport = CURLE_OUT_OF_MEMORY;
            return out;
        }
        CURL* curl = handle.get();
        libcurl().easy_reset(curl);
        set_common(curl, endpoint + std::string(path));
        auto list = headers();
        libcurl().easy_setopt(curl, CURLOPT_HTTPHEADER, list.get());
        libcurl().easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
        libcurl().easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
        libcurl().easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
        if (transfer == Transfer::bulk) {
            // Megabytes over a slow link may take longer than any fixed
            // slice, and a member reads a million keys for seconds before
            // it sends a byte; one that sends next to nothing for five
            // slices is left as a hung one is.
            const long slice = static_cast<long>(options.attempt_timeout.count());
            libcurl().easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, slice);
            libcurl().easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, kBulkLowSpeed);
            libcurl().easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                             std::max(1L, kBulkSilentSlices * slice / 1000));
        }
        libcurl().easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
        libcurl().easy_setopt(curl, CURLOPT_WRITEDATA, &out);
        out.transport = libcurl().easy_perform(curl);
        libcurl().easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
        return out;
    }

    static Failure judge(const std::string& endpoint, const Exchange& exchange) {
        // Another member may answer as it should.
        if (exchange.too_large)
            return {Next::other_endpoint,
                    make_error(Errc::io_error, "etcd " + endpoint + ": answer cut at " +
                                                   mebibytes(exchange.most_bytes) +
                                                   ", more than the request can hold")};
        if (exchange.transport != CURLE_OK) {
            // Our own TLS settings are wrong, or the member is not who it
            // claims: no other endpoint will do better.
            const bool refused_by_tls = exchange.transport == CURLE_PEER_FAILED_VERIFICATION ||
                                        exchange.transport == CURLE_SSL_CERTPROBLEM ||
                                        exchange.transport == CURLE_SSL_CACERT_BADFILE;
            return {refused_by_tls ? Next::give_up : Next::other_endpoint,
                    make_error(Errc::io_error,
                               "etcd " + endpoint + ": " + libcurl().easy_strerror(exchange.transport))};
        }
        std::string message = "HTTP " + std::to_string(exchange.status);
        int code = 0;
        const json answer = json::parse(exchange.body, nullptr, false);
        if (answer.is_object()) {
            code = static_cast<int>(int_field(answer, "code"));
            if (auto it = answer.find("message"); it != answer.end() && it->is_string())
                message = it->get<std::string>();
            else if (auto e = answer.find("error"); e != answer.end() && e->is_string())
                message = e->get<std::string>();
        }
        const std::string what = "etcd " + endpoint + ": " + message;
        if (code == kGrpcOutOfRange && message.find("compacted") != std::string::npos)
            return {Next::give_up, make_error(Errc::not_found, what)};
        // The token expired or was revoked: log in again (once). Only a
        // request etcd refuses with PERMISSION_DENIED is about the key.
        if (code == kGrpcUnauthenticated)
            return {Next::authenticate, make_error(Errc::authentication_failed, what)};
        // No leader, leader changed, timed out, a member shutting down.
        if (code == kGrpcUnavailable || code == kGrpcDeadlineExceeded || exchange.status >= 500 ||
            message.find("leader") != std::string::npos)
            return {Next::other_endpoint, make_error(Errc::io_error, what)};
        return {Next::give_up,
                make_error(code == kGrpcPermissionDenied ? Errc::permission_denied : Errc::io_error,
                           what)};
    }

    // nullopt once a token is held.
    std::optional<Failure> authenticate(const std::string& endpoint) {
        // Built by hand: the password is never copied outside a wiped string.
        std::string body = "{\"name\":" + json(options.user).dump() + ",\"password\":";
        body.reserve(body.size() + 6 * options.password.view().size() + 3);
        append_json_string(body, options.password.view());
        body += '}';
        const SecretString text(std::move(body));
        token = SecretString();
        Exchange exchange =
            post(endpoint, "/v3/auth/authenticate", text.view(), options.request_timeout);
        if (exchange.transport == CURLE_OK && exchange.status == 200) {
            const json answer = json::parse(exchange.body, nullptr, false);
            sodium_memzero(exchange.body.data(), exchange.body.size());
            if (answer.is_object() && answer.contains("token") && answer["token"].is_string()) {
                token = SecretString(answer["token"].get<std::string>());
                return std::nullopt;
            }
        }
        Failure failure = judge(endpoint, exchange);
        if (failure.next != Next::other_endpoint) {
            // Whatever the member said (a wrong password is gRPC 3, a TLS
            // failure no answer at all), the login failed: not a permission
            // on a key, which a reader may take as "not allowed, go on".
            failure.next = Next::give_up;
            failure.error =
                make_error(Errc::authentication_failed,
                           exchange.transport == CURLE_OK
                               ? "etcd refused user " + options.user + ": " + failure.error.message
                               : "cannot log in to etcd as user " + options.user + ": " +
                                     failure.error.message);
        }
        return failure;
    }

    // The deadline passed with members connecting but none deciding: what
    // that means (a majority down, stopped or cut off) said first, the
    // last member's own words after.
    Error no_quorum(const Error& last) const {
        const auto seconds = std::chrono::duration<double>(options.request_timeout).count();
        char within[32];
        std::snprintf(within, sizeof within, "%.1f", seconds);
        return make_error(Errc::io_error, "no etcd quorum: none of " +
                                              std::to_string(options.endpoints.size()) +
                                              " endpoints decided within " + within +
                                              " s (a majority of members down, stopped or cut "
                                              "off?); last: " +
                                              last.message);
    }

    // A /v3/kv/range answer, its keys decoded; `limit` keys at most (0: no limit).
    Result<EtcdRange> range(const json& request, Transfer transfer, std::int64_t limit);

    // Tries the endpoints in turn (the last good one first) until one
    // answers, or the request's time is up. Every retried request is safe
    // to repeat: reads, and transactions guarded by compares.
    Result<json> call(std::string_view path, const json& request,
                      Transfer transfer = Transfer::small, std::size_t most_bytes = kAnswerBytes) {
        const std::string body = request.dump();
        const auto deadline = Clock::now() + (transfer == Transfer::bulk
                                                  ? kBulkBudgets * options.request_timeout
                                                  : options.request_timeout);
        Error last = make_error(Errc::io_error, "etcd: no endpoint");
        // An answer cut for its size says more than the timeouts around it.
        std::optional<Error> cut;
        bool authenticated_again = false;
        // Rounds in which no endpoint even accepted a connection: the
        // cluster is down, not electing; said at once rather than at the deadline.
        std::size_t refused_in_round = 0;
        std::size_t refused_rounds = 0;
        for (std::size_t attempt = 0;; ++attempt) {
            const std::string& endpoint = options.endpoints[current];
            if (!options.user.empty() && token.view().empty()) {
                if (auto failure = authenticate(endpoint)) {
                    last = failure->error;
                    if (failure->next == Next::give_up)
                        return last;
                    current = (current + 1) % options.endpoints.size();
                    if (Clock::now() >= deadline)
                        return no_quorum(last);
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    continue;
                }
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            // One member may hang (a follower waiting for a dead leader):
            // each attempt gets a slice, the rest goes to the others.
            const auto slice = std::max(options.attempt_timeout, std::chrono::milliseconds(200));
            Exchange exchange = post(endpoint, path, body,
                                     transfer == Transfer::bulk
                                         ? std::max(left, std::chrono::milliseconds(200))
                                         : std::clamp(left, std::chrono::milliseconds(200), slice),
                                     transfer, most_bytes);
            if (exchange.transport == CURLE_OK && exchange.status == 200) {
                json answer = json::parse(exchange.body, nullptr, false);
                if (!answer.is_object())
                    return make_error(Errc::io_error, "etcd " + endpoint + ": not JSON");
                return answer;
            }
            Failure failure = judge(endpoint, exchange);
            last = failure.error;
            if (exchange.too_large)
                cut = last;
            if (failure.next == Next::give_up)
                return last;
            if (failure.next == Next::authenticate) {
                if (authenticated_again || options.user.empty())
                    return last;
                authenticated_again = true;
                token = SecretString();
                continue;
            }
            if (exchange.transport == CURLE_COULDNT_CONNECT)
                ++refused_in_round;
            current = (current + 1) % options.endpoints.size();
            if (Clock::now() >= deadline)
                return cut ? *cut : no_quorum(last);
            if ((attempt + 1) % options.endpoints.size() == 0) {
                refused_rounds =
                    refused_in_round == options.endpoints.size() ? refused_rounds + 1 : 0;
                refused_in_round = 0;
                if (refused_rounds == kRefusedRounds) {
                    return make_error(Errc::io_error, "no etcd endpoint accepts connections (" +
                                                          std::to_string(options.endpoints.size()) +
                                                          " tried): " + last.message);
                }
                // A full round failed: give an election time to finish.
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
    }
};

namespace {

// `text` whole as a decimal number within [least, most]: "5000abc" is refused.
bool whole_number_within(const std::string& text, long long least, long long most,
                         long long& value) {
    char* end = nullptr;
    errno = 0;
    value = std::strtoll(text.c_str(), &end, 10);
    return !text.empty() && *end == '\0' && errno == 0 && value >= least && value <= most;
}

}  // namespace

Result<EtcdOptions> etcd_options(std::string_view endpoints,
                                 const std::vector<std::pair<std::string, std::string>>& flags) {
    EtcdOptions options;
    std::size_t start = 0;
    while (start <= endpoints.size()) {
        std::size_t comma = endpoints.find(',', start);
        if (comma == std::string_view::npos)
            comma = endpoints.size();
        std::string endpoint(endpoints.substr(start, comma - start));
        endpoint.erase(0, endpoint.find_first_not_of(" \t"));
        while (!endpoint.empty() && (endpoint.back() == '/' || endpoint.back() == ' '))
            endpoint.pop_back();
        if (!endpoint.empty()) {
            if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0) {
                return make_error(Errc::invalid_argument,
                                  "etcd endpoint " + endpoint + " is not http:// or https://");
            }
            options.endpoints.push_back(endpoint);
        }
        start = comma + 1;
    }
    if (options.endpoints.empty())
        return make_error(Errc::invalid_argument, "no etcd endpoint given");
    options.ca_cert = env("KEYAUTH_ETCD_CACERT").value_or("");
    options.client_cert = env("KEYAUTH_ETCD_CERT").value_or("");
    options.client_key = env("KEYAUTH_ETCD_KEY").value_or("");
    options.user = env("KEYAUTH_ETCD_USER").value_or("");
    std::optional<std::string> password_file = env("KEYAUTH_ETCD_PASSWORD_FILE");
    if (auto timeout = env("KEYAUTH_ETCD_TIMEOUT_MS")) {
        long long millis = 0;
        if (!whole_number_within(*timeout, 200, 3600000, millis))
            return make_error(Errc::invalid_argument,
                              "KEYAUTH_ETCD_TIMEOUT_MS needs 200 to 3600000");
        options.request_timeout = std::chrono::milliseconds(millis);
        options.attempt_timeout = std::min(options.attempt_timeout, options.request_timeout);
    }
    if (auto page = env("KEYAUTH_ETCD_READ_PAGE")) {
        long long keys = 0;
        if (!whole_number_within(*page, 1, 100000, keys))
            return make_error(Errc::invalid_argument, "KEYAUTH_ETCD_READ_PAGE needs 1 to 100000");
        options.read_page = keys;
    }
    if (auto password = env("KEYAUTH_ETCD_PASSWORD"))
        options.password = SecretString(*password);
    for (const auto& [name, value] : flags) {
        if (name == "etcd-cacert")
            options.ca_cert = value;
        else if (name == "etcd-cert")
            options.client_cert = value;
        else if (name == "etcd-key")
            options.client_key = value;
        else if (name == "etcd-user")
            options.user = value;
        else if (name == "etcd-password-file")
            password_file = value;
        else
            return make_error(Errc::invalid_argument, "unknown option --" + name);
    }
    if (password_file) {
        auto text = read_small_file(*password_file);
        if (!text)
            return text.error();
        while (!text->empty() && (text->back() == '\n' || text->back() == '\r'))
            text->pop_back();
        options.password = SecretString(std::move(*text));
    }
    if (options.client_cert.empty() != options.client_key.empty())
        return make_error(Errc::invalid_argument, "an etcd client certificate needs its key");
    return options;
}

const std::vector<std::string_view>& etcd_flag_names() {
    static const std::vector<std::string_view> names = {"etcd-cacert", "etcd-cert", "etcd-key",
                                                        "etcd-user", "etcd-password-file"};
    return names;
}

std::string etcd_prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        auto& last = reinterpret_cast<unsigned char&>(end.back());
        if (last < 0xff) {
            ++last;
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');  // every key
}

EtcdClient::EtcdClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdClient::~EtcdClient() = default;

Result<std::unique_ptr<EtcdClient>> EtcdClient::connect(EtcdOptions options) {
    if (options.endpoints.empty())
        return make_error(Errc::invalid_argument, "no etcd endpoint given");
    if (Status s = load_curl_once(); !s)
        return s.error();
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(impl)));
}

std::int64_t EtcdClient::read_page() const {
    return impl_->options.read_page;
}

const std::string& EtcdClient::endpoint() const {
    return impl_->options.endpoints[impl_->current];
}

Result<EtcdRange> EtcdClient::range(std::string_view key, std::string_view range_end,
                                    std::int64_t revision, std::int64_t limit,
                                    bool serializable) {
    json request = {{"key", base64(key)}};
    if (serializable)
        request["serializable"] = true;
    if (!range_end.empty())
        request["range_end"] = base64(range_end);
    if (revision > 0)
        request["revision"] = std::to_string(revision);
    if (limit > 0)
        request["limit"] = std::to_string(limit);
    return impl_->range(request, limit > 0 ? Transfer::bulk : Transfer::small, limit);
}

Result<EtcdRange> EtcdClient::changed_since(std::string_view key, std::string_view range_end,
                                            std::int64_t revision, std::int64_t after) {
    json request = {{"key", base64(key)},
                    {"range_end", base64(range_end)},
                    {"revision", std::to_string(revision)},
                    {"keys_only", true},
                    {"min_mod_revision", std::to_string(after + 1)}};
    return impl_->range(request, Transfer::bulk, 0);
}
Result<EtcdRange> EtcdClient::count(std::string_view key, std::string_view range_end,
                                    std::int64_t revision) {
    json request = {{"key", base64(key)}, {"range_end", base64(range_end)}, {"count_only", true}};
    if (revision > 0)
        request["revision"] = std::to_string(revision);
    return impl_->range(request, Transfer::small, 0);
}

Result<EtcdRange> EtcdClient::Impl::range(const json& request, Transfer transfer,
                                          std::int64_t limit) {
    const std::size_t most_bytes =
        limit > 0 ? kAnswerBytes + static_cast<std::size_t>(limit) * kAnswerBytesPerKey
        : request.contains("range_end") && !request.contains("count_only") ? kWholeRangeAnswerBytes
                                                                           : kAnswerBytes;
    auto answer = call("/v3/kv/range", request, transfer, most_bytes);
    if (!answer)
        return answer.error();
    try {
        EtcdRange out;
        out.revision = int_field((*answer)["header"], "revision");
        out.cluster_id = id_field((*answer)["header"], "cluster_id");
        out.more = answer->value("more", false);
        out.count = int_field(*answer, "count");
        if (auto kvs = answer->find("kvs"); kvs != answer->end()) {
            out.kvs.reserve(kvs->size());
            for (const json& kv : *kvs)
                out.kvs.push_back(key_value_of(kv));
        }
        return out;
    } catch (const std::exception& e) {
        return make_error(Errc::io_error, std::string("etcd range: ") + e.what());
    }
}

Result<EtcdTxnResult> EtcdClient::txn(const std::vector<EtcdCompare>& compares,
                                      const std::vector<EtcdOperation>& operations) {
    json request = {
        {"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
    for (const EtcdCompare& c : compares) {
        const bool created = c.target == EtcdCompare::Target::create_revision;
        request["compare"].push_back(
            {{"target", created ? "CREATE" : "MOD"},
             {"result", "EQUAL"},
             {"key", base64(c.key)},
             {created ? "create_revision" : "mod_revision", std::to_string(c.revision)}});
        request["failure"].push_back({{"request_range", {{"key", base64(c.key)}}}});
    }
    for (const EtcdOperation& op : operations) {
        if (op.kind == EtcdOperation::Kind::put) {
            request["success"].push_back(
                {{"request_put", {{"key", base64(op.key)}, {"value", base64(op.value)}}}});
        } else {
            request["success"].push_back({{"request_delete_range", {{"key", base64(op.key)}}}});
        }
    }
    auto answer = impl_->call("/v3/kv/txn", request);
    if (!answer)
        return answer.error();
    try {
        EtcdTxnResult out;
        out.revision = int_field((*answer)["header"], "revision");
        out.succeeded = answer->value("succeeded", false);
        if (!out.succeeded) {
            for (const json& response : answer->value("responses", json::array())) {
                const json range = response.value("response_range", json::object());
                for (const json& kv : range.value("kvs", json::array()))
                    out.current.push_back(key_value_of(kv));
            }
        }
        return out;
    } catch (const std::exception& e) {
        return make_error(Errc::io_error, std::string("etcd txn: ") + e.what());
    }
}

Result<std::optional<EtcdKeyValue>> EtcdClient::settled_get(std::string_view key) {
    // Deleting an absent key changes nothing and makes no revision, but it
    // is a write: the transaction is proposed and committed like any other.
    static constexpr std::string_view kFenceKey = "/keyauth-fence/settle";
    const json request = {
        {"success",
         {{{"request_delete_range", {{"key", base64(kFenceKey)}}}},
          {{"request_range", {{"key", base64(key)}}}}}}};
    auto answer = impl_->call("/v3/kv/txn", request);
    if (!answer)
        return answer.error();
    try {
        for (const json& response : answer->value("responses", json::array())) {
            const json range = response.value("response_range", json::object());
            for (const json& kv : range.value("kvs", json::array()))
                return std::optional<EtcdKeyValue>(key_value_of(kv));
        }
        return std::optional<EtcdKeyValue>();
    } catch (const std::exception& e) {
        return make_error(Errc::io_error, std::string("etcd txn: ") + e.what());
    }
}

Status EtcdClient::compact(std::int64_t revision) {
    auto answer = impl_->call("/v3/kv/compaction",
                              {{"revision", std::to_string(revision)}, {"physical", true}});
    return answer.status();
}

namespace {

struct WatchState {
    const std::function<bool(const EtcdWatchBatch&)>* on_batch = nullptr;
    const std::function<bool()>* should_stop = nullptr;
    Clock::time_point until;
    std::string pending;  // an incomplete line of the stream
    // Responses read but not handed on yet: everything read at once is
    // handed on at once (see deliver_received).
    std::vector<EtcdWatchBatch> received;
    bool stopped = false;
    // Whether the member sent anything: etcd's gateway answers a watch's
    // create request at once with a line saying "created", before any
    // catch-up however large and late (etcd holds a watch's events until
    // that line is sent).
    bool answered = false;
    std::optional<Error> error;
};

// One line of the watch stream read as it is parsed (nlohmann's SAX
// interface): a response holds all of a revision's events, a million for a
// `del --prefix` of every client, each taken out as it ends, and the tree of
// the line never built (it peaked at 2.5 GB). Only the scalars read below
// are kept, in objects of their own: a DOM parser with a callback looks
// through an object's or array's kept elements each time one of them ends,
// so a hostile line of 40 000 `{}` anywhere took 6 s, a megabyte of them
// minutes.
class WatchLineReader {
  public:
    std::vector<EtcdEvent> events;
    json header = json::object();  // result.header's revision
    json result = json::object();  // result's compact_revision and canceled
    std::optional<json> error;     // the gateway's error: its scalars
    std::optional<std::string> refused;
    bool is_object = false;

    bool null() { return scalar(nullptr); }
    bool boolean(bool value) { return scalar(value); }
    bool number_integer(json::number_integer_t value) { return scalar(value); }
    bool number_unsigned(json::number_unsigned_t value) { return scalar(value); }
    bool number_float(json::number_float_t value, const std::string&) { return scalar(value); }
    bool string(std::string& value) { return scalar(std::move(value)); }
    bool binary(json::binary_t&) { return scalar(nullptr); }  // not in JSON text
    bool key(std::string& name) {
        if (places_.size() == 1 && name == "result" && ++results_ > 1)
            return refuse("two results in one response");
        key_ = std::move(name);
        return true;
    }
    bool start_object(std::size_t) { return open(true); }
    bool start_array(std::size_t) { return open(false); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool parse_error(std::size_t, const std::string&, const json::exception&) { return false; }

  private:
    // What each container open around the parser is to the reader; key_ is
    // the innermost object's last key, all that a scalar or a container
    // opening needs.
    enum class Place { root, result, header, events, event, kv, error, other };
    std::vector<Place> places_;
    std::string key_;
    int results_ = 0;
    json event_ = json::object();
    std::optional<json> kv_;

    bool refuse(std::string why) {
        refused = std::move(why);
        return false;
    }
    // "events" holds objects each with a kv: anything else is refused alike.
    bool refuse_malformed_event() { return refuse("an event that is not an object with a kv"); }
    Place inside() const { return places_.empty() ? Place::other : places_.back(); }
    bool open(bool object) {
        Place place = Place::other;
        const Place parent = inside();
        if (places_.empty()) {
            is_object = object;
            place = Place::root;
        } else if (parent == Place::root && key_ == "result" && object) {
            place = Place::result;
        } else if (parent == Place::root && key_ == "error") {
            place = Place::error;
            error = json::object();
        } else if (parent == Place::result && key_ == "header" && object) {
            place = Place::header;
        } else if (parent == Place::result && key_ == "events" && !object) {
            place = Place::events;
        } else if (parent == Place::events) {
            if (!object)
                return refuse_malformed_event();
            place = Place::event;
            event_ = json::object();
            kv_.reset();
        } else if (parent == Place::event && key_ == "kv" && object) {
            place = Place::kv;
            kv_ = json::object();
        }
        places_.push_back(place);
        key_.clear();
        return true;
    }
    bool close() {
        const Place place = places_.back();
        places_.pop_back();
        if (place != Place::event)
            return true;
        if (!kv_)
            return refuse_malformed_event();
        try {
            events.push_back(
                EtcdEvent{event_.value("type", "PUT") == "DELETE", key_value_of(*kv_)});
        } catch (const std::exception& e) {
            return refuse(e.what());
        }
        return true;
    }
    bool scalar(json value) {
        switch (inside()) {
            case Place::root:
                if (key_ == "error")
                    error = std::move(value);
                else if (key_ == "result")
                    return refuse("a result that is not an object");
                return true;
            case Place::result:
                if (key_ == "compact_revision" || key_ == "canceled")
                    result[key_] = std::move(value);
                return true;
            case Place::header:
                if (key_ == "revision")
                    header[key_] = std::move(value);
                return true;
            case Place::events:
                return refuse_malformed_event();
            case Place::event:
                if (key_ == "type")
                    event_[key_] = std::move(value);
                return true;
            case Place::kv:
                if (key_ == "key" || key_ == "value" || key_ == "create_revision" ||
                    key_ == "mod_revision")
                    (*kv_)[key_] = std::move(value);
                return true;
            case Place::error:
                (*error)[key_] = std::move(value);
                return true;
            case Place::other:
                return true;
        }
        return true;
    }
};

// The gateway streams one JSON object a line: {"result": WatchResponse} or
// {"error": ...}.
bool handle_line(WatchState& state, std::string_view line) {
    WatchLineReader reader;
    const bool parsed = json::sax_parse(line, &reader);
    if (reader.refused) {
        state.error = make_error(Errc::io_error, "etcd watch: " + *reader.refused);
        return false;
    }
    if (!parsed || !reader.is_object) {
        state.error = make_error(Errc::io_error, "etcd watch: not JSON");
        return false;
    }
    if (reader.error) {
        state.error = make_error(Errc::io_error, "etcd watch: " + reader.error->dump());
        return false;
    }
    EtcdWatchBatch batch;
    try {
        batch.header_revision = int_field(reader.header, "revision");
        batch.compact_revision = int_field(reader.result, "compact_revision");
        batch.canceled = reader.result.value("canceled", false);
        batch.events = std::move(reader.events);
    } catch (const std::exception& e) {
        state.error = make_error(Errc::io_error, std::string("etcd watch: ") + e.what());
        return false;
    }
    state.received.push_back(std::move(batch));
    return true;
}

// Whether `next` may be handed on in one batch with `into`: changes only,
// no compaction or cancellation, which the caller must see on their own.
bool joins(const EtcdWatchBatch& into, const EtcdWatchBatch& next) {
    return into.compact_revision == 0 && !into.canceled && next.compact_revision == 0 &&
           !next.canceled;
}

// Hands on what the stream has brought since the last call, the responses
// that only change keys joined into one batch, in order. A consumer that
// spends a while on each batch (an fsynced commit) would otherwise fall
// further behind with every write while etcd is written faster than it
// commits; joined, it is never more than one batch behind. False once the
// consumer has had enough: what is left is dropped, and asked for again
// from the consumer's own revision.
bool deliver_received(WatchState& state) {
    std::vector<EtcdWatchBatch> received;
    received.swap(state.received);
    std::size_t i = 0;
    while (i < received.size() && !state.stopped) {
        EtcdWatchBatch batch = std::move(received[i++]);
        for (; i < received.size() && joins(batch, received[i]); ++i) {
            batch.header_revision = std::max(batch.header_revision, received[i].header_revision);
            for (EtcdEvent& event : received[i].events)
                batch.events.push_back(std::move(event));
        }
        if (!(*state.on_batch)(batch))
            state.stopped = true;
    }
    return !state.stopped;
}

size_t watch_body(char* data, size_t size, size_t count, void* user) {
    auto& state = *static_cast<WatchState*>(user);
    state.answered = true;
    // `pending` holds no newline between calls: what is left of a line.
    state.pending.append(data, size * count);
    std::size_t start = 0;
    for (std::size_t newline; (newline = state.pending.find('\n', start)) != std::string::npos;
         start = newline + 1) {
        const std::string_view line(state.pending.data() + start, newline - start);
        if (line.find_first_not_of(" \r\t") == std::string_view::npos)
            continue;
        if (!handle_line(state, line))
            return 0;  // stops the transfer
    }
    state.pending.erase(0, start);
    return size * count;
}

// How long a watch may take to see that it is asked to stop. libcurl's
// progress callback slows to once a second on an idle stream, so the stream
// is driven here, polled this often.
constexpr int kWatchStopCheckMillis = 20;

struct CurlMultiFree {
    void operator()(CURLM* multi) const { libcurl().multi_cleanup(multi); }
};
using CurlMultiPtr = std::unique_ptr<CURLM, CurlMultiFree>;

enum class WatchEnd { transfer_ended, asked_to_stop, session_over };

// How long a live member may take to answer a watch's create request.
constexpr std::chrono::milliseconds kWatchCreatedWithin{1000};

// Runs one transfer until it ends, should_stop says so or `until` passes
// (then `end` says which). The transfer's own result, or a multi error.
CURLcode run_watch_transfer(CURL* curl, WatchState& state, WatchEnd& end) {
    CurlMultiPtr multi(libcurl().multi_init());
    if (!multi || libcurl().multi_add_handle(multi.get(), curl) != CURLM_OK)
        return CURLE_OUT_OF_MEMORY;
    CURLcode result = CURLE_OK;
    for (;;) {
        int running = 0;
        if (libcurl().multi_perform(multi.get(), &running) != CURLM_OK) {
            result = CURLE_RECV_ERROR;
            break;
        }
        if (!deliver_received(state))
            break;
        if (running == 0) {
            int left = 0;
            while (CURLMsg* message = libcurl().multi_info_read(multi.get(), &left)) {
                if (message->msg == CURLMSG_DONE)
                    result = message->data.result;
            }
            break;
        }
        if ((*state.should_stop)()) {
            end = WatchEnd::asked_to_stop;
            break;
        }
        if (Clock::now() >= state.until) {
            end = WatchEnd::session_over;
            break;
        }
        libcurl().multi_poll(multi.get(), nullptr, 0, kWatchStopCheckMillis, nullptr);
    }
    libcurl().multi_remove_handle(multi.get(), curl);
    return result;
}

}  // namespace

Status EtcdClient::watch(std::string_view key, std::string_view range_end,
                         std::int64_t start_revision,
                         const std::function<bool(const EtcdWatchBatch&)>& on_batch,
                         std::chrono::milliseconds session,
                         const std::function<bool()>& should_stop) {
    Impl& impl = *impl_;
    const std::string& endpoint = impl.options.endpoints[impl.current];
    if (!impl.options.user.empty() && impl.token.view().empty()) {
        if (auto failure = impl.authenticate(endpoint)) {
            if (failure->next == Next::other_endpoint)
                impl.current = (impl.current + 1) % impl.options.endpoints.size();
            return failure->error;
        }
    }
    json request = {{"create_request",
                     {{"key", base64(key)},
                      {"range_end", base64(range_end)},
                      {"start_revision", std::to_string(start_revision)}}}};
    const std::string body = request.dump();
    CurlPtr curl(libcurl().easy_init());
    if (!curl)
        return make_error(Errc::io_error, "watch: libcurl could not make a handle");
    impl.set_common(curl.get(), endpoint + "/v3/watch");
    auto list = impl.headers();
    WatchState state;
    state.on_batch = &on_batch;
    state.should_stop = &should_stop;
    state.until = Clock::now() + session;
    libcurl().easy_setopt(curl.get(), CURLOPT_HTTPHEADER, list.get());
    libcurl().easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
    libcurl().easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    libcurl().easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, watch_body);
    libcurl().easy_setopt(curl.get(), CURLOPT_WRITEDATA, &state);
    WatchEnd end = WatchEnd::transfer_ended;
    const CURLcode rc = run_watch_transfer(curl.get(), state, end);
    long status = 0;
    libcurl().easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (state.stopped || end == WatchEnd::asked_to_stop)
        return {};
    // A whole session without even the "created" line: the member is
    // stopped or hung with its connection open (TCP still accepts), and
    // would keep the watcher, no change applied, for as long as it lasts.
    // Not judged in a session shorter than a live member may take to say
    // "created" (tests' sessions of 20 ms: 4-75 ms here, loaded).
    if (end == WatchEnd::session_over && !state.answered && session >= kWatchCreatedWithin) {
        impl.current = (impl.current + 1) % impl.options.endpoints.size();
        return make_error(Errc::io_error, "etcd " + endpoint + ": no answer to a watch in " +
                                              std::to_string(session.count()) + " ms");
    }
    if (end == WatchEnd::session_over)
        return {};
    if (state.error) {
        if (state.error->message.find("auth") != std::string::npos)
            impl.token = SecretString();
        return *state.error;
    }
    // Any other end: this endpoint is gone or refused; try the next one.
    impl.current = (impl.current + 1) % impl.options.endpoints.size();
    if (rc != CURLE_OK)
        return make_error(Errc::io_error, "etcd " + endpoint + ": " + libcurl().easy_strerror(rc));
    return make_error(Errc::io_error,
                      "etcd " + endpoint + ": watch ended (HTTP " + std::to_string(status) + ")");
}

}  // namespace keyauth
