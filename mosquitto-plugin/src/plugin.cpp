// mosquitto_keyauth.so: registered tokens and client certificates for
// Mosquitto 2.0 (plugin API v5). Entry points only; each concern lives in
// its own file: options, basic_auth, sessions, callbacks,
// broker_private.
#include <cstdarg>
#include <cstdio>
#include <exception>
#include <memory>
#include <new>

#include <keyauth/registry_reader.hpp>

#include "basic_auth.hpp"
#include "broker_api.hpp"
#include "broker_private.hpp"
#include "callbacks.hpp"
#include "options.hpp"
#include "plugin_state.hpp"

#define KEYAUTH_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

namespace keyauth::mqtt {

void log(int level, const char* format, ...) {
    char line[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    mosquitto_log_printf(level, "keyauth: %s", line);
}

namespace {

constexpr int kPluginApiVersion = 5;

struct Registration {
    int event;
    MOSQ_FUNC_generic_callback callback;
};

// No MOSQ_EVT_ACL_CHECK: once registered, a deferred ACL check means deny.
constexpr Registration kCallbacks[] = {
    {MOSQ_EVT_BASIC_AUTH, on_basic_auth},
    {MOSQ_EVT_TICK, on_tick},
    {MOSQ_EVT_DISCONNECT, on_disconnect},
    {MOSQ_EVT_RELOAD, on_reload},
};

void unregister_callbacks(mosquitto_plugin_id_t* identifier) {
    for (const Registration& r : kCallbacks) {
        mosquitto_callback_unregister(identifier, r.event, r.callback, nullptr);
    }
}

int start(mosquitto_plugin_id_t* identifier, void** userdata, mosquitto_opt* options,
          int option_count) {
    Result<Options> parsed = parse_options(options, option_count);
    if (!parsed) {
        log(MOSQ_LOG_ERR, "%s", parsed.error().message.c_str());
        return MOSQ_ERR_INVAL;
    }
    auto registry = RegistryReader::open_for_server(parsed->registry_dir);
    if (!registry) {
        log(MOSQ_LOG_ERR, "cannot open the registry: %s", registry.error().message.c_str());
        return MOSQ_ERR_INVAL;
    }

    auto plugin = std::make_unique<Plugin>();
    plugin->identifier = identifier;
    plugin->options = std::move(parsed.value());
    plugin->store = std::move(registry.value());
    plugin->sessions = SessionTable(plugin->options.registry_error_grace);
    plugin->sys = SysTopics(plugin->options.sys_interval);
    if (!plugin->options.last_use.empty()) {
        plugin->last_use = std::make_unique<LastUseRecorder>(plugin->options.last_use,
                                                             plugin->options.last_use_interval);
    }
    for (const Registration& r : kCallbacks) {
        if (mosquitto_callback_register(identifier, r.event, r.callback, nullptr, plugin.get()) !=
            MOSQ_ERR_SUCCESS) {
            unregister_callbacks(identifier);
            log(MOSQ_LOG_ERR, "cannot register with the broker");
            return MOSQ_ERR_UNKNOWN;
        }
    }

    const Options& o = plugin->options;
    log(MOSQ_LOG_NOTICE, "registry %s", o.registry_dir.c_str());
    log(MOSQ_LOG_NOTICE,
        o.token_auth ? "MQTT token authentication enabled" : "MQTT token authentication disabled");
    log(MOSQ_LOG_NOTICE, "client certificates are checked against the registry%s",
        o.clientid_match ? "; MQTT client id must be the registered id" : "");
    if (!o.clientid_match)
        log(MOSQ_LOG_WARNING,
            "WARNING: plugin_opt_clientid_match false: a client certificate may use ANY MQTT "
            "client id, another client's too (taking over its session)");
    log(MOSQ_LOG_NOTICE,
        "live sessions are kept up to %lld s through an unreadable registry "
        "(plugin_opt_registry_error_grace)",
        static_cast<long long>(o.registry_error_grace));
    if (o.sys_interval > 0) {
        log(MOSQ_LOG_NOTICE,
            "counters published under $SYS/broker/keyauth/ every %lld s "
            "(plugin_opt_sys_interval)",
            static_cast<long long>(o.sys_interval));
    }
    if (!o.last_use.empty()) {
        log(MOSQ_LOG_NOTICE,
            "last use per client recorded in %s every %lld s (plugin_opt_last_use): "
            "at least this recent, never used to admit or refuse",
            o.last_use.c_str(), static_cast<long long>(o.last_use_interval));
    }
    if (loaded_per_listener(identifier)) {
        log(MOSQ_LOG_WARNING,
            "WARNING: per_listener_settings true: the broker sends this plugin no tick, so "
            "deleted, expired or re-issued clients are NOT disconnected (they are refused "
            "when they connect again); remove per_listener_settings for live revocation");
    }
    *userdata = plugin.release();
    return MOSQ_ERR_SUCCESS;
}

}  // namespace
}  // namespace keyauth::mqtt

using namespace keyauth::mqtt;

KEYAUTH_PLUGIN_EXPORT int mosquitto_plugin_version(int supported_version_count,
                                                   const int* supported_versions) {
    for (int i = 0; i < supported_version_count; ++i) {
        if (supported_versions[i] == kPluginApiVersion)
            return kPluginApiVersion;
    }
    return -1;
}

KEYAUTH_PLUGIN_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata,
                                                mosquitto_opt* options, int option_count) {
    try {
        return start(identifier, userdata, options, option_count);
    } catch (const std::bad_alloc&) {
        log(MOSQ_LOG_ERR, "out of memory while starting");
    } catch (const std::exception&) {
        log(MOSQ_LOG_ERR, "internal error while starting");
    }
    return MOSQ_ERR_UNKNOWN;
}

KEYAUTH_PLUGIN_EXPORT int mosquitto_plugin_cleanup(void* userdata, mosquitto_opt* /*options*/,
                                                   int /*option_count*/) {
    std::unique_ptr<Plugin> plugin(static_cast<Plugin*>(userdata));
    if (plugin) {
        unregister_callbacks(plugin->identifier);
        if (plugin->last_use)
            write_last_use(*plugin);  // one last try, never waiting
    }
    return MOSQ_ERR_SUCCESS;
}
