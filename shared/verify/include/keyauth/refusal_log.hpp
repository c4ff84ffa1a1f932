// The refusal log's rule, one home for both servers: which refusals get a
// line of their own. Per client and reason, the first refusal is logged;
// the ones after it stay quiet (counted) until a minute has passed, when the
// next one is logged again with the count of those in between ("and 59 more
// ... in the last 60 s"), or a server with a tick asks take_overdue() for
// the counts once their minute is over. A device looping with a revoked
// token so writes one line a minute, never a flood. Without a tick, a quiet
// run that simply stops is reported only at that client's next refusal.
//
// Keys, and why memory stays bounded whatever a client presents:
// - a registered client's refusals (its credential was found: expired, not
//   yet valid, MQTT client id refused, different clients) are keyed by its
//   id and reason in a table of kRefusalLogClients entries;
// - an id the registry does not confirm to the one presenting it (unknown
//   or deleted client, a wrong secret, a username without password, an
//   unreadable registry) in a table of its own of kRefusalLogStrangers
//   entries, so garbage ids never push out the registered clients' entries,
//   and whether a line is written never tells a guesser an id is registered;
// - refusals that name no client (no credential, malformed) share one key
//   per reason, as do refusals whose table slots are all still inside their
//   minute: an entry is replaced (the oldest of its set first) only once its
//   minute is over, so no stream of fresh ids gets a line each.
// So at most (both tables + one per reason) lines a minute, whatever comes.
//
// One per process (nginx worker, broker): no lock, no allocation after
// construction, no system call: the caller passes the time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "keyauth/authenticator.hpp"

namespace keyauth {

inline constexpr std::int64_t kRefusalLogWindow = 60;  // seconds between lines per key
inline constexpr std::size_t kRefusalLogClients = 4096;
inline constexpr std::size_t kRefusalLogStrangers = 512;

// What to do with one refusal.
struct RefusalNote {
    bool log = false;            // write this refusal's line (else stay quiet)
    std::uint32_t unlogged = 0;  // quiet refusals of its key since that key's last line
    std::int64_t seconds = 0;    // since that line
    bool shared = false;         // the key is a reason's shared one (no client named)
    // When log and unlogged: what to add to the line, e.g.
    // "and 59 more refusals of this client for this reason in the last 60 s".
    char summary[112] = {};
    std::string_view summary_text() const { return summary; }
};

// A key whose minute is over with refusals not logged: for a server with a
// tick to say so without waiting for that client's next refusal.
struct RefusalSummary {
    char client_id[kMaxClientIdLength + 1] = {};  // "" for a reason's shared key
    Verdict verdict = Verdict::malformed;
    std::uint32_t unlogged = 0;
    std::int64_t seconds = 0;  // since the key's last line
};

class RefusalLog {
  public:
    explicit RefusalLog(std::size_t clients = kRefusalLogClients,
                        std::size_t strangers = kRefusalLogStrangers,
                        std::int64_t window = kRefusalLogWindow);
    ~RefusalLog();
    RefusalLog(const RefusalLog&) = delete;
    RefusalLog& operator=(const RefusalLog&) = delete;

    // client_id: the id parsed from the credential ("" when none), never
    // the token. now: Unix seconds (or any clock that counts seconds).
    RefusalNote note(std::string_view client_id, Verdict verdict, std::int64_t now) noexcept;

    // Up to capacity keys whose minute is over with refusals not logged,
    // each then counted as logged now (its next minute starts). Returns how
    // many it wrote; call again while it fills out. Nothing to do (the
    // usual case) costs one comparison.
    std::size_t take_overdue(std::int64_t now, RefusalSummary* out, std::size_t capacity) noexcept;
    // Refusals counted and not logged yet: something for take_overdue().
    bool pending() const noexcept;

    struct State;

  private:
    std::unique_ptr<State> state_;
};

// Does this refusal's verdict mean the registry found the client it names?
// (Only then is the id keyed in the registered clients' table.)
bool refusal_names_registered_client(Verdict verdict) noexcept;

// Text a client chose (an MQTT client id), safe in one log line: bytes
// outside printable ASCII (and the backslash) as \xHH, at most limit bytes
// of the text, "..." after a cut.
std::string printable_for_log(std::string_view text, std::size_t limit = kMaxClientIdLength);

}  // namespace keyauth
