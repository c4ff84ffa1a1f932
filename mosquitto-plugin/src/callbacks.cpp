#include "callbacks.hpp"

#include <chrono>
#include <string_view>

#include <keyauth/clock.hpp>

#include "basic_auth.hpp"
#include "broker_api.hpp"
#include "plugin_state.hpp"

namespace keyauth::mqtt {

// Under load the broker fires the tick on every pass of its loop, thousands
// of times a second; looking at the registry every 50 ms keeps the promise
// of a disconnect within a second.
constexpr std::chrono::milliseconds kSweepInterval{50};
// Quiet refusals are reported within a second of their minute's end.
constexpr std::chrono::seconds kRefusalSummaryInterval{1};

bool write_last_use(Plugin& plugin) noexcept {
    const FlushReport flush = plugin.last_use->flush(unix_now());
    const bool kept = flush.outcome == FlushOutcome::busy || flush.outcome == FlushOutcome::failed;
    if (!flush.report)
        return !kept;
    if (flush.outcome == FlushOutcome::failed) {
        // said once until it changes: a full disk does not flood the log
        log(MOSQ_LOG_ERR, "last use: %s", flush.message.c_str());
    } else {
        log(MOSQ_LOG_NOTICE, "last use: records written again to %s",
            plugin.options.last_use.c_str());
    }
    return !kept;
}

namespace {

// Why a live session was cut, in the log's words: a cut is no refusal, and
// a refusal's advice is no help to the client cut.
std::string_view cut_reason(Verdict verdict) {
    if (verdict == Verdict::mismatch)
        return "re-issued";
    if (verdict == Verdict::client_id_refused)
        return "its MQTT client id, assigned by the broker, is now a registered client's";
    return verdict_reason(verdict);
}

// Once an interval: every live session's client is marked as used now (a
// device connected for 100 days is not unused for 90), then the marks are
// written. O(live sessions) per interval, a hash and a compare each, no
// allocation; a CONNECT costs what it did. Parked sessions are offline.
void record_last_use(Plugin& plugin) noexcept {
    LastUseRecorder& recorder = *plugin.last_use;
    const std::int64_t now = unix_now();
    if (!recorder.interval_over(now))
        return;
    bool writable = true;
    plugin.sessions.for_each_live([&](std::string_view client_id) {
        recorder.mark(client_id, now);
        // more clients than the table holds: written as the pass goes, and
        // this one marked again (it may have been dropped), until the file
        // is busy or fails (then some may wait for a later interval)
        if (writable && recorder.crowded()) {
            writable = write_last_use(plugin);
            if (writable)
                recorder.mark(client_id, now);
        }
    });
    // Another process holding the file: the marks wait for the next interval.
    write_last_use(plugin);
}

}  // namespace

int on_tick(int /*event*/, void* /*event_data*/, void* userdata) {
    Plugin& plugin = *static_cast<Plugin*>(userdata);
    plugin.ticked = true;
    plugin.reloading = false;  // the reload's BASIC_AUTH pass is over
    const auto now = std::chrono::steady_clock::now();
    if (now < plugin.next_sweep)
        return MOSQ_ERR_SUCCESS;
    plugin.next_sweep = now + kSweepInterval;
    if (now >= plugin.next_refusal_summary) {
        plugin.next_refusal_summary = now + kRefusalSummaryInterval;
        log_overdue_refusals(plugin);
        if (plugin.last_use)
            record_last_use(plugin);
    }
    SweepOutcome swept;
    try {
        swept = plugin.sessions.sweep(*plugin.store, unix_now(), [](std::size_t count) {
            log(MOSQ_LOG_DEBUG, "registry changed or a validity ended: re-checking %zu sessions",
                count);
        });
    } catch (...) {
        log(MOSQ_LOG_ERR, "could not re-check sessions; trying again next tick");
        return MOSQ_ERR_SUCCESS;
    }
    const long long grace = static_cast<long long>(plugin.sessions.registry_error_grace());
    if (swept.news == SweepNews::registry_unreadable) {
        plugin.sys.registry_unreadable();
        log(MOSQ_LOG_WARNING,
            "registry %s unreadable: keeping %zu live sessions for up to %lld s unless it "
            "answers again (plugin_opt_registry_error_grace); new connections are refused",
            plugin.options.registry_dir.c_str(), swept.kept_through_error, grace);
    } else if (swept.news == SweepNews::registry_readable) {
        log(MOSQ_LOG_NOTICE, "registry %s readable again: live sessions re-checked",
            plugin.options.registry_dir.c_str());
    }
    // Kicked only after the sweep: a kick may report the disconnect at once.
    for (const Revocation& r : swept.revoked) {
        plugin.sys.session_cut(r.verdict);
        const std::string_view why = cut_reason(r.verdict);
        log(MOSQ_LOG_NOTICE, "disconnecting MQTT client '%s' of '%s': %.*s%s",
            r.mqtt_client_id.c_str(), r.client_id.c_str(), static_cast<int>(why.size()), why.data(),
            r.verdict == Verdict::registry_error
                ? " for longer than plugin_opt_registry_error_grace"
                : "");
        mosquitto_kick_client_by_clientid(r.mqtt_client_id.c_str(), false);
    }
    plugin.sys.publish_when_due(now, plugin.sessions.size());
    return MOSQ_ERR_SUCCESS;
}

int on_disconnect(int /*event*/, void* event_data, void* userdata) {
    Plugin& plugin = *static_cast<Plugin*>(userdata);
    const mosquitto* client = static_cast<mosquitto_evt_disconnect*>(event_data)->client;
    try {
        plugin.sessions.disconnected(client);
    } catch (...) {
        // Not parked (no memory): forgotten, so a reload refuses it, never admits it.
        plugin.sessions.untrack(client);
    }
    return MOSQ_ERR_SUCCESS;
}

// Mosquitto 2.0 fires this right before it re-runs BASIC_AUTH for every
// client it holds, offline persistent sessions included.
int on_reload(int /*event*/, void* /*event_data*/, void* userdata) {
    static_cast<Plugin*>(userdata)->reloading = true;
    return MOSQ_ERR_SUCCESS;
}

}  // namespace keyauth::mqtt
