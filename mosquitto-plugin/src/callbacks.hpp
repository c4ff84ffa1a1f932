// The broker's events besides BASIC_AUTH: the tick that sweeps the session
// table, the disconnect that updates it, the reload (SIGHUP) that re-runs
// BASIC_AUTH for every session. userdata is the Plugin.
#pragma once

namespace keyauth::mqtt {

int on_tick(int event, void* event_data, void* userdata);
int on_disconnect(int event, void* event_data, void* userdata);
int on_reload(int event, void* event_data, void* userdata);

}  // namespace keyauth::mqtt
