#include "basic_auth.hpp"

#include <chrono>
#include <cstring>
#include <exception>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include <keyauth/authenticator.hpp>
#include <keyauth/clock.hpp>
#include <keyauth/refusal_log.hpp>
#include <keyauth/x509_identity.hpp>

#include "broker_api.hpp"
#include "plugin_state.hpp"

namespace keyauth::mqtt {
namespace {

std::string_view view_of(const char* text) {
    return text != nullptr ? std::string_view(text) : std::string_view();
}

std::optional<std::string_view> optional_of(const char* text) {
    if (text == nullptr)
        return std::nullopt;
    return std::string_view(text);
}

const char* credential_name(CredentialKind kind) {
    return kind == CredentialKind::certificate ? "certificate" : "token";
}

// Who was refused, from where and why; never the token, which may be the
// username. Per client and reason (RefusalLog) the first refusal gets a
// line, the next are counted for log_overdue_refusals() to report.
// The plugin API does not say which listener took the CONNECT.
int refuse(Plugin& plugin, mosquitto* client, const char* credential, std::string_view client_id,
           Verdict verdict, std::string_view reason) {
    if (plugin.reloading && plugin.sessions.find(client) != nullptr)
        plugin.sys.session_cut(verdict);  // a SIGHUP's re-check cut a live session
    plugin.sessions.untrack(client);
    const RefusalNote note = plugin.refusals.note(client_id, verdict, unix_now());
    if (!note.log)
        return MOSQ_ERR_AUTH;
    const std::string mqtt_client_id = printable_for_log(view_of(mosquitto_client_id(client)));
    log(MOSQ_LOG_NOTICE, "refused MQTT client '%s' from %s: %s%s%.*s%s: %.*s%s%s",
        mosquitto_client_id(client) != nullptr ? mqtt_client_id.c_str() : "<unknown>",
        or_unknown(mosquitto_client_address(client)), credential, client_id.empty() ? "" : " of '",
        static_cast<int>(client_id.size()), client_id.data(), client_id.empty() ? "" : "'",
        static_cast<int>(reason.size()), reason.data(), note.unlogged > 0 ? "; " : "",
        note.summary);
    return MOSQ_ERR_AUTH;
}

int refuse(Plugin& plugin, mosquitto* client, const char* credential, std::string_view client_id,
           Verdict verdict) {
    return refuse(plugin, client, credential, client_id, verdict, verdict_reason(verdict));
}

int refuse(Plugin& plugin, mosquitto* client, const AuthResult& result) {
    return refuse(plugin, client, credential_name(result.about), result.client_id(),
                  result.verdict);
}

// A SIGHUP re-runs BASIC_AUTH for the clients the broker holds: no CONNECTs.
void count_connect(Plugin& plugin, CredentialKind kind, Verdict verdict) noexcept {
    if (!plugin.reloading)
        plugin.sys.connect(kind, verdict);
}

// Live revocation needs the tick; say so once if it never came.
void warn_if_no_tick(Plugin& plugin) {
    using namespace std::chrono_literals;
    if (plugin.ticked || plugin.warned_no_tick ||
        std::chrono::steady_clock::now() - plugin.started < 3s)
        return;
    plugin.warned_no_tick = true;
    log(MOSQ_LOG_WARNING,
        "WARNING: no tick from the broker (per_listener_settings true?): "
        "deleted clients are NOT disconnected while connected");
}

// From here on the broker, its log and acl_file's %u know the client by its
// registered id: the token never reaches them. On SIGHUP the broker re-runs
// BASIC_AUTH with this id as the username; the session table answers that.
int admit(Plugin& plugin, mosquitto* client, std::string_view mqtt_client_id,
          const AuthResult& result) {
    const ClientIdText registered_id(result.client_id());  // in place: no allocation
    plugin.sessions.track(client, Session{mqtt_client_id, Grant::from(result),
                                          !mosquitto_client_clean_session(client),
                                          result.mqtt_client_id_assigned_form});
    const char* username = mosquitto_client_username(client);
    if ((username == nullptr || std::strcmp(username, registered_id.c_str()) != 0) &&
        mosquitto_set_username(client, registered_id.c_str()) != MOSQ_ERR_SUCCESS) {
        count_connect(plugin, result.about, Verdict::registry_error);
        return refuse(plugin, client, "credential", registered_id.view(), Verdict::registry_error,
                      "could not set username");
    }
    count_connect(plugin, result.about, Verdict::accepted);
    if (plugin.last_use)
        plugin.last_use->mark(registered_id.view(), unix_now());
    warn_if_no_tick(plugin);
    return MOSQ_ERR_SUCCESS;
}

// May the broker have assigned the id? The plugin API does not say. It
// assigns one only with a clean session (MQTT 3.1.1; MQTT 5 see SECURITY.md),
// and a fresh random id never collides with a session we admitted (one that
// does was chosen, to take that session over). The core judges the id's
// form and asks the registry.
bool broker_may_have_assigned(const Plugin& plugin, mosquitto* client,
                              std::string_view mqtt_client_id) {
    return mosquitto_client_clean_session(client) &&
           !plugin.sessions.holds_broker_assigned_id(mqtt_client_id);
}

// SIGHUP: a session admitted by a token now carries its registered id as
// username; it passes again exactly while its token would.
bool is_token_session_reauth(const Session* session, mosquitto* client, std::string_view username) {
    return session != nullptr && session->grant.credential.kind == CredentialKind::token &&
           username == session->grant.client_id.view() &&
           view_of(mosquitto_client_id(client)) == session->mqtt_client_id.view();
}

// SIGHUP also re-runs BASIC_AUTH for the persistent sessions the broker
// keeps offline; those are answered quietly from what admitted them.
int reauth_offline(Plugin& plugin, const Session& parked) {
    Grant grant = parked.grant;
    const std::int64_t now = unix_now();
    const SweepRuling ruling = plugin.sessions.ruling(
        recheck_session(*plugin.store, parked.mqtt_client_id, grant, now), grant, now);
    if (ruling.fate != SessionFate::cut)
        return MOSQ_ERR_SUCCESS;
    log(MOSQ_LOG_NOTICE, "offline session '%s' of '%s' no longer admitted: %s",
        parked.mqtt_client_id.c_str(), grant.client_id.c_str(), verdict_reason(ruling.why).data());
    return MOSQ_ERR_AUTH;
}

// The broker asks: may this CONNECT (or, on SIGHUP, this session) go on?
int answer_basic_auth(Plugin& plugin, const mosquitto_evt_basic_auth& event) {
    mosquitto* client = event.client;
    // Only on a require_certificate listener, after TLS verified it.
    X509Ptr certificate(static_cast<X509*>(mosquitto_client_certificate(client)));
    if (!certificate && !plugin.options.token_auth)
        return MOSQ_ERR_PLUGIN_DEFER;

    const std::string_view username = view_of(event.username);
    // Only the broker's own re-run on SIGHUP is answered from the table: a
    // CONNECT is a new client, whatever its address once held.
    if (!certificate && plugin.reloading) {
        Session* session = plugin.sessions.find(client);
        if (is_token_session_reauth(session, client, username)) {
            // Judged as the sweep judges it: an unreadable registry is no revocation.
            const std::int64_t now = unix_now();
            const Verdict verdict =
                recheck_session(*plugin.store, session->mqtt_client_id, session->grant, now);
            const SweepRuling ruling = plugin.sessions.ruling(verdict, session->grant, now);
            if (ruling.fate == SessionFate::cut) {
                const ClientIdText client_id = session->grant.client_id;  // refuse() untracks it
                return refuse(plugin, client, "token", client_id.view(), ruling.why);
            }
            return MOSQ_ERR_SUCCESS;
        }
        const Session* parked = plugin.sessions.find_parked(client);
        if (event.password == nullptr && is_token_session_reauth(parked, client, username))
            return reauth_offline(plugin, *parked);
    }

    const CredentialKind presented_kind =
        certificate ? CredentialKind::certificate : CredentialKind::token;
    const char* broker_client_id = mosquitto_client_id(client);
    if (broker_client_id == nullptr) {
        count_connect(plugin, presented_kind, Verdict::client_id_refused);
        return refuse(plugin, client, "credential", "", Verdict::client_id_refused,
                      "no MQTT client id");
    }
    const std::string_view mqtt_client_id = broker_client_id;
    Presented presented;
    if (event.username != nullptr)
        presented.mqtt_username = username;  // measured once
    presented.mqtt_password = optional_of(event.password);
    presented.mqtt_client_id = mqtt_client_id;
    presented.mqtt_client_id_assigned = broker_may_have_assigned(plugin, client, mqtt_client_id);
    presented.certificate = certificate.get();
    presented.certificate_verified = certificate != nullptr;

    Requirements requirements;
    if (certificate) {
        requirements.certificate = Check::required;
        requirements.token = plugin.options.token_auth ? Check::when_presented : Check::off;
    } else {
        requirements.token = Check::required;
    }
    requirements.certificate_client_id_is_registered_id = plugin.options.clientid_match;
    requirements.assigned_id_prefix = plugin.options.auto_id_prefix;

    const std::int64_t now = unix_now();
    const AuthResult result = keyauth::authenticate(*plugin.store, presented, requirements, now);
    plugin.sys.verification_cache(result.cache);
    if (result.verdict == Verdict::registry_error && plugin.reloading) {
        // A reload re-authenticating a live session (a certificate's, or a
        // token given as password): kept through the error as on the tick.
        const Session* live = plugin.sessions.find(client);
        if (live != nullptr &&
            plugin.sessions.ruling(result.verdict, live->grant, now).fate != SessionFate::cut)
            return MOSQ_ERR_SUCCESS;
    }
    if (!result.accepted()) {
        count_connect(plugin, result.about, result.verdict);
        return refuse(plugin, client, result);
    }
    // A reload's pass over an offline session (password form): it stays parked.
    if (plugin.reloading && plugin.sessions.find_parked(client) != nullptr)
        return MOSQ_ERR_SUCCESS;
    return admit(plugin, client, mqtt_client_id, result);
}

}  // namespace

void log_overdue_refusals(Plugin& plugin) noexcept {
    RefusalSummary overdue[16];
    std::size_t taken = 0;
    do {
        taken = plugin.refusals.take_overdue(unix_now(), overdue, std::size(overdue));
        for (std::size_t i = 0; i < taken; ++i) {
            const RefusalSummary& s = overdue[i];
            const std::string_view reason = verdict_reason(s.verdict);
            log(MOSQ_LOG_NOTICE, "%u more refusals%s%s%s (%.*s) in the last %lld s", s.unlogged,
                s.client_id[0] != '\0' ? " of '" : "", s.client_id,
                s.client_id[0] != '\0' ? "'" : "", static_cast<int>(reason.size()), reason.data(),
                static_cast<long long>(s.seconds));
        }
    } while (taken == std::size(overdue));
}

int on_basic_auth(int /*event*/, void* event_data, void* userdata) {
    Plugin& plugin = *static_cast<Plugin*>(userdata);
    auto& event = *static_cast<mosquitto_evt_basic_auth*>(event_data);
    try {
        return answer_basic_auth(plugin, event);
    } catch (const std::exception&) {
    } catch (...) {
    }
    // Fail closed, and log without the exception's text: it is not ours.
    try {
        return refuse(plugin, event.client, "credential", "", Verdict::registry_error,
                      "internal error");
    } catch (...) {
        plugin.sessions.untrack(event.client);
        return MOSQ_ERR_AUTH;
    }
}

}  // namespace keyauth::mqtt
