#include "basic_auth.hpp"

#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include <keyauth/authenticator.hpp>
#include <keyauth/clock.hpp>
#include <keyauth/x509.hpp>

#include "broker_api.hpp"
#include "plugin_state.hpp"

namespace keyauth::mqtt {
namespace {

std::string_view view_of(const char* text) {
    return text != nullptr ? std::string_view(text) : std::string_view();
}

// Who was refused and why; never the token, which may be the username.
int refuse(Plugin& plugin, mosquitto* client, const char* credential, std::string_view client_id,
           std::string_view reason) {
    plugin.sessions.untrack(client);
    log(MOSQ_LOG_NOTICE, "refused MQTT client '%s' from %s: %s%s%.*s%s: %.*s",
        or_unknown(mosquitto_client_id(client)), or_unknown(mosquitto_client_address(client)),
        credential, client_id.empty() ? "" : " of '", static_cast<int>(client_id.size()),
        client_id.data(), client_id.empty() ? "" : "'", static_cast<int>(reason.size()),
        reason.data());
    return MOSQ_ERR_AUTH;
}

int refuse(Plugin& plugin, mosquitto* client, const char* credential, const AuthResult& result) {
    return refuse(plugin, client, credential, result.client_id(), verdict_reason(result.verdict));
}

// From here on the broker, its log and acl_file's %u know the client by its
// registered id: the token never reaches them. On SIGHUP the broker re-runs
// BASIC_AUTH with this id as the username; the session table answers that.
int admit(Plugin& plugin, mosquitto* client, Grant grant) {
    const char* mqtt_client_id = mosquitto_client_id(client);
    if (mqtt_client_id == nullptr) {
        return refuse(plugin, client, "credential", grant.client_id, "no MQTT client id");
    }
    const std::string registered_id = grant.client_id;
    plugin.sessions.track(client, Session{mqtt_client_id, std::move(grant)});
    if (view_of(mosquitto_client_username(client)) != registered_id &&
        mosquitto_set_username(client, registered_id.c_str()) != MOSQ_ERR_SUCCESS) {
        return refuse(plugin, client, "credential", registered_id, "could not set username");
    }
    return MOSQ_ERR_SUCCESS;
}

int check_certificate_of(Plugin& plugin, mosquitto* client, const X509* certificate) {
    const AuthResult result = check_certificate(*plugin.store, certificate, unix_now());
    if (!result.accepted())
        return refuse(plugin, client, "certificate", result);
    if (plugin.options.clientid_match &&
        view_of(mosquitto_client_id(client)) != result.client_id()) {
        return refuse(plugin, client, "certificate", result.client_id(),
                      "MQTT client id is not the registered id");
    }
    return admit(plugin, client, Grant::from(result));
}

int check_token_of(Plugin& plugin, mosquitto* client, std::string_view token) {
    const AuthResult result = check_token(*plugin.store, token, unix_now());
    if (!result.accepted())
        return refuse(plugin, client, "token", result);
    return admit(plugin, client, Grant::from(result));
}

// SIGHUP: a session admitted by a token now carries its registered id as
// username; it passes again exactly while its token would.
bool is_token_session_reauth(const Session* session, mosquitto* client, std::string_view username) {
    return session != nullptr && session->grant.credential.kind == CredentialKind::token &&
           username == session->grant.client_id &&
           view_of(mosquitto_client_id(client)) == session->mqtt_client_id;
}

int authenticate(Plugin& plugin, const mosquitto_evt_basic_auth& event) {
    mosquitto* client = event.client;
    // A certificate (only on a require_certificate listener) decides alone.
    X509Ptr certificate(static_cast<X509*>(mosquitto_client_certificate(client)));
    if (certificate)
        return check_certificate_of(plugin, client, certificate.get());

    if (!plugin.options.token_auth)
        return MOSQ_ERR_PLUGIN_DEFER;
    const std::string_view username = view_of(event.username);
    Session* session = plugin.sessions.find(client);
    if (is_token_session_reauth(session, client, username)) {
        const Verdict verdict = recheck(*plugin.store, session->grant, unix_now());
        if (verdict != Verdict::accepted) {
            const std::string client_id = session->grant.client_id;
            return refuse(plugin, client, "token", client_id, verdict_reason(verdict));
        }
        return MOSQ_ERR_SUCCESS;
    }
    return check_token_of(plugin, client, username);
}

}  // namespace

int on_basic_auth(int /*event*/, void* event_data, void* userdata) {
    Plugin& plugin = *static_cast<Plugin*>(userdata);
    auto& event = *static_cast<mosquitto_evt_basic_auth*>(event_data);
    try {
        return authenticate(plugin, event);
    } catch (const std::exception&) {
    } catch (...) {
    }
    // Fail closed, and log without the exception's text: it is not ours.
    try {
        return refuse(plugin, event.client, "credential", "", "internal error");
    } catch (...) {
        plugin.sessions.untrack(event.client);
        return MOSQ_ERR_AUTH;
    }
}

}  // namespace keyauth::mqtt
