// authenticate() for an HTTP request, as the C facade calls it: the verdict
// handed to deliver, once. A Bearer header alone (what authenticate()'s lone
// token comes to for HTTP) seen before is answered from the verification
// cache in place: no policy built around it, no copy but deliver's. Inline,
// for the store's own type: the hit is one frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "keyauth/authenticator.hpp"
#include "verification_cache.hpp"

namespace keyauth {

// Whether a credential is judged, as its Check says (authenticate()'s rule,
// authenticator.cpp, and this header's).
inline bool judged(Check check, bool is_presented) {
    return check == Check::required || (check == Check::when_presented && is_presented);
}

// The full path for an Authorization value: its one Bearer token
// (authenticator.cpp); token_at: where it starts, kNoToken if none.
AuthResult verify_bearer(ClientStore& store, std::string_view header_value, std::int64_t now,
                         std::size_t& token_at);

// authorization: the header's value, nullptr when there is none.
template <class Store, class Deliver>
[[gnu::always_inline]] inline void authenticate_http(Store& store, const char* authorization, std::size_t authorization_len,
                       const X509* certificate, bool certificate_verified,
                       const Requirements& requirements, std::int64_t now,
                       Deliver&& deliver) noexcept {
    // authenticate()'s lone token, for HTTP: judged whenever presented
    // (an empty value is its malformed one, left to it)
    if (authorization != nullptr && authorization_len != 0 && requirements.token != Check::off &&
        !judged(requirements.certificate, certificate != nullptr)) {
        const std::string_view value(authorization, authorization_len);
        try {
            VerificationCache* cache = store.verification_cache();
            VerificationCache::Probe probe;
            // The generation before the full path: see remember().
            if (cache != nullptr) {
                if (const AuthResult* remembered = cache->find(
                        value, VerificationCache::Presented::bearer_header,
                        [&store] { return store.generation(); }, now, probe))
                    return deliver(*remembered);  // remember() made it a hit's verdict
            }
            // about: the token, as verify_bearer's refusals and admissions say
            return deliver(verified_in_full(store, value, now, verify_bearer, cache, probe));
        } catch (...) {
            // thrown before anything was delivered: failing closed
            AuthResult failure;
            failure.verdict = Verdict::registry_error;
            return deliver(failure);
        }
    }
    Presented presented;
    if (authorization != nullptr)
        presented.authorization = std::string_view(authorization, authorization_len);
    presented.certificate = certificate;
    presented.certificate_verified = certificate_verified;
    deliver(authenticate(store, presented, requirements, now));
}

}  // namespace keyauth
