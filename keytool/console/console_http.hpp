// The console's requests and responses, apart from the HTTP library.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "console_json.hpp"
#include "keyauth/result.hpp"
#include "keyauth/token.hpp"

namespace keytool::console {

using QueryParams = std::map<std::string, std::string, std::less<>>;

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    // May hold a private key or a token: wiped once it has been sent.
    keyauth::SecretString body;
    // Instead of body: bytes that live as long as the program (the page's
    // compiled-in files), sent from where they are.
    std::optional<std::string_view> static_body;
    std::vector<std::pair<std::string, std::string>> headers;
};

HttpResponse json_response(int status, const Json& body);
// A body that is not JSON (text, PEM).
HttpResponse body_response(int status, std::string content_type, keyauth::SecretString body);
// {"error":"..."} with the status that fits the core's error.
HttpResponse error_response(const keyauth::Error& error);
HttpResponse error_response(int status, std::string_view message);

}  // namespace keytool::console
