#include "console_http.hpp"

namespace keytool::console {

HttpResponse json_response(int status, const Json& body) {
    // Compact; bytes that are not UTF-8 (an id in a path can hold any) as
    // U+FFFD rather than an exception out of the server's callback.
    const WipedString text = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    return body_response(status, "application/json",
                         keyauth::SecretString(std::string(text.data(), text.size())));
}

HttpResponse body_response(int status, std::string content_type, keyauth::SecretString body) {
    HttpResponse response;
    response.status = status;
    response.content_type = std::move(content_type);
    response.body = std::move(body);
    return response;
}

HttpResponse error_response(int status, std::string_view message) {
    return json_response(status, Json{{"error", message}});
}

HttpResponse error_response(const keyauth::Error& error) {
    switch (error.code) {
        case keyauth::Errc::invalid_argument:
            return error_response(400, error.message);
        case keyauth::Errc::unknown_client:
            return error_response(404, error.message);
        case keyauth::Errc::already_exists:
            return error_response(409, error.message);
        default:
            return error_response(500, error.message);
    }
}

}  // namespace keytool::console
