// JSON string literals, for the few JSON texts the core and keytool write
// by hand.
#pragma once

#include <string>
#include <string_view>

namespace keyauth {

// Appends text as a JSON string literal, quotes included, in place: no
// temporary copy of a secret is made.
void append_json_string(std::string& out, std::string_view text);

}  // namespace keyauth
