// MOSQ_EVT_BASIC_AUTH: a registered certificate, else a token as username.
#pragma once

namespace keyauth::mqtt {

// userdata is the Plugin. Returns MOSQ_ERR_SUCCESS, MOSQ_ERR_AUTH, or
// MOSQ_ERR_PLUGIN_DEFER for a token when token auth is off. Never throws.
int on_basic_auth(int event, void* event_data, void* userdata);

struct Plugin;
// From the tick: the refusals counted quietly whose minute is over, one
// line per client and reason, so a run that stopped is still reported.
void log_overdue_refusals(Plugin& plugin) noexcept;

}  // namespace keyauth::mqtt
