// The broker's events besides BASIC_AUTH: the tick that sweeps the session
// table, the disconnect that updates it, the reload (SIGHUP) that re-runs
// BASIC_AUTH for every session. userdata is the Plugin.
#pragma once

namespace keyauth::mqtt {

int on_tick(int event, void* event_data, void* userdata);
int on_disconnect(int event, void* event_data, void* userdata);
int on_reload(int event, void* event_data, void* userdata);

struct Plugin;
// plugin_opt_last_use: writes the marks now (the tick, when due, and the
// cleanup), never waiting for another process; logs a failure once.
bool write_last_use(Plugin& plugin) noexcept;  // false: marks kept

}  // namespace keyauth::mqtt
