#include "console_api.hpp"

#include <sodium.h>

#include <cstdio>
#include <functional>
#include <optional>

#include "console_requests.hpp"
#include "from_keytool.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/client_listing.hpp"
#include "keyauth/files.hpp"
#include "keyauth/issuance.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "keyauth/provisioning.hpp"

namespace keytool::console {
namespace {

std::string base64(std::string_view bytes) {
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                      bytes.size(), sodium_base64_VARIANT_ORIGINAL);
    out.pop_back();  // the terminating NUL
    return out;
}

// The three files once, as JSON, with the zip for the page's download button.
HttpResponse issued_json(const keyauth::IssuedClient& issued, std::int64_t now) {
    const ClientFiles files = client_files(issued);
    const keyauth::SecretString zip64(base64(files.zip.view()));
    Json out = describe_client(issued.record.id, issued.record.credentials, now);
    out["files"] = Json::array({
        {{"name", files.certificate_name},
         {"mode", "0644"},
         {"contents", issued.certificate.certificate_pem}},
        {{"name", files.private_key_name},
         {"mode", "0600"},
         {"contents", issued.certificate.private_key_pem.view()}},
        {{"name", files.token_name}, {"mode", "0600"}, {"contents", files.token_file.view()}},
    });
    out["zip"] = {{"name", issued.record.id + ".zip"}, {"base64", zip64.view()}};
    return json_response(201, out);
}

keyauth::AuditEvent console_change(keyauth::AuditAction action, std::string_view id,
                                   const ConsoleActor& actor, const std::string& registry) {
    keyauth::AuditEvent event;
    event.action = action;
    event.client_id = std::string(id);
    event.via = "console";
    event.session = actor.session;
    event.peer = actor.peer;
    event.add("registry", registry);
    return event;
}

}  // namespace

HttpResponse ConsoleApi::list_clients(const QueryParams& query, std::int64_t now) const {
    auto listing = listing_query(query, now);
    if (!listing)
        return error_response(listing.error());
    auto state = state_filter(query);
    if (!state)
        return error_response(state.error());
    auto registry = keyauth::open_registry_to_read(registry_.dir);
    if (!registry)
        return error_response(registry.error());
    if (*state)
        listing->in_state = keyauth::InState{**state, now};
    auto page = keyauth::list_clients_page(**registry, *listing);
    if (!page)
        return error_response(page.error());
    Json clients = Json::array();
    for (const auto& record : page->records)
        clients.push_back(Json(describe_client(record.id, record.credentials, now)));
    return json_response(200, {{"total", page->total},
                               {"offset", listing->offset},
                               {"limit", listing->limit},
                               {"now", now},
                               {"clients", std::move(clients)}});
}

HttpResponse ConsoleApi::show_client(std::string_view id, std::int64_t now) const {
    if (keyauth::Status s = keyauth::check_client_id(id); !s)
        return error_response(s.error());
    auto registry = keyauth::open_registry_to_read(registry_.dir);
    if (!registry)
        return error_response(registry.error());
    keyauth::ClientCredentials credentials;
    if (keyauth::Status s = (*registry)->find(id, credentials); !s)
        return error_response(s.error());
    return json_response(200, describe_client(id, credentials, now));
}

HttpResponse ConsoleApi::create_client(std::string_view body, bool as_zip, std::int64_t now,
                                       const ConsoleActor& actor) const {
    auto request = issue_request(body, now);
    const std::string id = request ? request->client_id : std::string();
    return issue_audited(keyauth::AuditAction::gen, id, std::move(request), as_zip, now, actor);
}

HttpResponse ConsoleApi::rotate_client(std::string_view id, std::string_view body, bool as_zip,
                                       std::int64_t now, const ConsoleActor& actor) const {
    return issue_audited(keyauth::AuditAction::rotate, id, rotate_request(id, body, now), as_zip,
                         now, actor);
}

// gen and rotate: the request, refused or issued, audited once.
HttpResponse ConsoleApi::issue_audited(keyauth::AuditAction action, std::string_view id,
                                       keyauth::Result<keyauth::IssueRequest> request, bool as_zip,
                                       std::int64_t now, const ConsoleActor& actor) const {
    keyauth::AuditEvent event = console_change(action, id, actor, registry_.dir);
    HttpResponse response;
    event.result =
        request ? issue(*request, as_zip, now, event, response) : keyauth::Status(request.error());
    keyauth::audit(event);
    return event.result ? std::move(response) : error_response(event.result.error());
}

keyauth::Status ConsoleApi::issue(const keyauth::IssueRequest& request, bool as_zip,
                                  std::int64_t now, keyauth::AuditEvent& event,
                                  HttpResponse& response) const {
    event.add("days", std::to_string(request.days));
    if (request.replace)
        event.add("replace", "yes");
    if (request.rotate_grace)
        event.add("grace", std::to_string(*request.rotate_grace));
    auto authority = keyauth::load_authority(registry_);
    if (!authority)
        return authority.error();
    auto registry = keyauth::LmdbRegistry::open(registry_.dir, keyauth::OpenMode::read_write);
    if (!registry)
        return registry.error();
    // Built while the write lock is held; dropped if the commit fails.
    std::string serial;
    auto deliver = [&](const keyauth::IssuedClient& issued) -> keyauth::Status {
        serial = issued.record.credentials.serial.hex();
        if (!as_zip) {
            response = issued_json(issued, now);
            return {};
        }
        response = body_response(201, "application/zip", client_files(issued).zip);
        response.headers.emplace_back("Content-Disposition",
                                      "attachment; filename=\"" + issued.record.id + ".zip\"");
        return {};
    };
    auto undeliver = [&] { response = HttpResponse(); };
    if (keyauth::Status s =
            keyauth::issue_client(**registry, *authority, request, now, deliver, undeliver);
        !s) {
        return s;
    }
    event.add("serial", serial);
    return {};
}

HttpResponse ConsoleApi::delete_client(std::string_view id, const ConsoleActor& actor) const {
    keyauth::AuditEvent event = console_change(keyauth::AuditAction::del, id, actor, registry_.dir);
    event.result = revoke(id);
    keyauth::audit(event);
    if (!event.result)
        return error_response(event.result.error());
    return json_response(200, {{"id", id}, {"deleted", true}});
}

HttpResponse ConsoleApi::suspend_client(std::string_view id, bool suspended, std::int64_t now,
                                        const ConsoleActor& actor) const {
    keyauth::AuditEvent event =
        console_change(suspended ? keyauth::AuditAction::suspend : keyauth::AuditAction::resume, id,
                       actor, registry_.dir);
    auto changed = set_suspended(id, suspended);
    event.result = changed ? keyauth::Status() : keyauth::Status(changed.error());
    if (changed && !*changed)
        event.add("unchanged", "yes");
    keyauth::audit(event);
    if (!changed)
        return error_response(changed.error());
    auto registry = keyauth::open_registry_to_read(registry_.dir);
    keyauth::ClientCredentials credentials;
    if (!registry || !(*registry)->find(id, credentials))  // deleted since: the change stands
        return json_response(200, {{"id", id}, {"suspended", suspended}, {"changed", *changed}});
    Json out = describe_client(id, credentials, now);
    out["changed"] = *changed;
    return json_response(200, out);
}

keyauth::Result<bool> ConsoleApi::set_suspended(std::string_view id, bool suspended) const {
    if (keyauth::Status s = keyauth::check_client_id(id); !s)
        return s.error();
    auto registry = keyauth::LmdbRegistry::open(registry_.dir, keyauth::OpenMode::read_write);
    if (!registry)
        return registry.error();
    return keyauth::set_client_suspended(**registry, id, suspended);
}

keyauth::Status ConsoleApi::revoke(std::string_view id) const {
    if (keyauth::Status s = keyauth::check_client_id(id); !s)
        return s;
    auto registry = keyauth::LmdbRegistry::open(registry_.dir, keyauth::OpenMode::read_write);
    if (!registry)
        return registry.error();
    return keyauth::revoke_client(**registry, id);
}

HttpResponse ConsoleApi::ca_certificate() const {
    auto pem = keyauth::read_small_file(registry_.ca_cert());
    if (!pem)
        return error_response(pem.error());
    HttpResponse response =
        body_response(200, "application/x-pem-file", keyauth::SecretString(std::move(*pem)));
    response.headers.emplace_back("Content-Disposition", "attachment; filename=\"ca_cert.pem\"");
    return response;
}

HttpResponse ConsoleApi::expiry_calendar(const QueryParams& query, std::int64_t now) const {
    auto months = whole_number(query, "months", 12, 1, keyauth::kMaxCalendarMonths);
    if (!months)
        return error_response(months.error());
    auto registry = keyauth::open_registry_to_read(registry_.dir);
    if (!registry)
        return error_response(registry.error());
    auto calendar = keyauth::expiry_calendar(**registry, now, static_cast<int>(*months));
    if (!calendar)
        return error_response(calendar.error());
    Json months_json = Json::array();
    for (const auto& month : calendar->months) {
        char label[16];
        std::snprintf(label, sizeof label, "%04d-%02d", month.year, month.month);
        months_json.push_back({{"month", label}, {"count", month.count}});
    }
    return json_response(200, {{"expired", calendar->expired},
                               {"later", calendar->later},
                               {"months", std::move(months_json)}});
}

}  // namespace keytool::console
