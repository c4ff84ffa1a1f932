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
Json issued_json(const keyauth::IssuedClient& issued, std::int64_t now) {
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
    return out;
}

}  // namespace

keyauth::AuditEvent ConsoleApi::change_event(keyauth::AuditAction action, std::string_view id,
                                             const ConsoleActor& actor) const {
    keyauth::AuditEvent event;
    event.action = action;
    event.client_id = std::string(id);
    event.via = "console";
    event.session = actor.session;
    event.peer = actor.peer;
    event.add("registry", registry_.dir);
    if (store_->in_fleet())
        event.add("etcd", "yes");
    return event;
}

std::optional<HttpResponse> ConsoleApi::refuse_unwritable(keyauth::AuditEvent& event,
                                                          std::string_view what) const {
    keyauth::Status s = store_->check_writable(what);
    if (s)
        return std::nullopt;
    event.result = s;
    keyauth::audit(event);
    return error_response(409, s.error().message);
}

void ConsoleApi::add_revision(keyauth::AuditEvent& event) const {
    if (store_->revision() != 0)
        event.revision = store_->revision();
}

void ConsoleApi::add_last_use(Json& client, std::string_view id) const {
    // As `keytool list --json` gives it: Unix seconds, null for no record.
    const auto found = last_use_.merged().find(id);
    if (found == last_use_.merged().end())
        client["last_used"] = nullptr;
    else
        client["last_used"] = found->second;
}

HttpResponse ConsoleApi::list_clients(const QueryParams& query, std::int64_t now) const {
    auto listing = listing_query(query, now);
    if (!listing)
        return error_response(listing.error());
    auto state = state_filter(query);
    if (!state)
        return error_response(state.error());
    auto unused = unused_filter(query);
    if (!unused)
        return error_response(unused.error());
    // Before given(): a host of the fleet may have published since.
    Json last_use_errors = Json::array();
    for (auto& message : last_use_.refresh())
        last_use_errors.push_back(std::move(message));
    if (*unused && !last_use_.given()) {
        return error_response(400,
                              "unused needs the servers' last-use files: keytool serve "
                              "--last-use FILE, once per host, or with --etcd a host that "
                              "publishes (keyauth-sync --publish-last-use)");
    }
    if (*unused && !last_use_.fleet_refused().empty()) {
        // Shown without it, but not filtered on: its clients could look unused.
        return error_response(400, "unused needs every host's last use: host " +
                                       last_use_.fleet_refused().front() +
                                       "'s could not be read (last_use_errors says why)");
    }
    auto registry = store_->open_to_read();
    if (!registry)
        return error_response(registry.error());
    if (*state)
        listing->in_state = keyauth::InState{**state, now};
    if (*unused)
        listing->unused = keyauth::unused_within(last_use_.merged(), now, **unused);
    auto page = keyauth::list_clients_page(**registry, *listing);
    if (!page)
        return error_response(page.error());
    Json clients = Json::array();
    for (const auto& record : page->records) {
        Json client(describe_client(record.id, record.credentials, now));
        if (last_use_.given())
            add_last_use(client, record.id);
        clients.push_back(std::move(client));
    }
    Json out = {{"total", page->total},
                {"offset", listing->offset},
                {"limit", listing->limit},
                {"now", now},
                {"clients", std::move(clients)}};
    if (last_use_.given())
        out["last_use_errors"] = std::move(last_use_errors);
    if (last_use_.from_fleet())
        out["stale_hosts"] =
            describe_stale_hosts(last_use_.fleet_hosts(), last_use_.fleet_markers_read(), now);
    return json_response(200, out);
}

HttpResponse ConsoleApi::show_client(std::string_view id, std::int64_t now) const {
    if (keyauth::Status s = keyauth::check_client_id(id); !s)
        return error_response(s.error());
    auto registry = store_->open_to_read();
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
    keyauth::AuditEvent event = change_event(action, id, actor);
    const bool rotate = action == keyauth::AuditAction::rotate;
    if (auto refused =
            refuse_unwritable(event, rotate ? "rotate clients in" : "register clients in"))
        return std::move(*refused);
    HttpResponse response;
    event.result =
        request ? issue(*request, as_zip, now, event, response) : keyauth::Status(request.error());
    add_revision(event);
    keyauth::audit(event);
    const bool registered = event.result || event.result.code() == keyauth::Errc::not_published;
    return registered ? std::move(response) : error_response(event.result.error());
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
    // Built while the write lock is held; dropped if the commit fails.
    std::string serial;
    Json issued_keys;
    auto deliver = [&](const keyauth::IssuedClient& issued) -> keyauth::Status {
        serial = issued.record.credentials.serial.hex();
        if (!as_zip) {
            issued_keys = issued_json(issued, now);
            return {};
        }
        response = body_response(201, "application/zip", client_files(issued).zip);
        response.headers.emplace_back("Content-Disposition",
                                      "attachment; filename=\"" + issued.record.id + ".zip\"");
        return {};
    };
    auto undeliver = [&] {
        issued_keys = Json();
        response = HttpResponse();
    };
    const keyauth::Status s = store_->issue(*authority, request, now, deliver, undeliver);
    if (!s && s.code() != keyauth::Errc::not_published)
        return s;
    // Registered, if not yet published: this answer is the keys' only copy.
    if (!as_zip) {
        if (!s)
            issued_keys["warning"] = s.error().message;
        response = json_response(201, issued_keys);
    } else if (!s) {
        response.headers.emplace_back("Keyauth-Warning", s.error().message);
    }
    event.add("serial", serial);
    return s;
}

HttpResponse ConsoleApi::delete_client(std::string_view id, const ConsoleActor& actor) const {
    keyauth::AuditEvent event = change_event(keyauth::AuditAction::del, id, actor);
    if (auto refused = refuse_unwritable(event, "delete clients from"))
        return std::move(*refused);
    event.result = keyauth::check_client_id(id);
    if (event.result)
        event.result = store_->revoke(std::string(id));
    add_revision(event);
    keyauth::audit(event);
    if (!event.result)
        return error_response(event.result.error());
    return json_response(200, {{"id", id}, {"deleted", true}});
}

HttpResponse ConsoleApi::suspend_client(std::string_view id, bool suspended, std::int64_t now,
                                        const ConsoleActor& actor) const {
    keyauth::AuditEvent event = change_event(
        suspended ? keyauth::AuditAction::suspend : keyauth::AuditAction::resume, id, actor);
    if (auto refused =
            refuse_unwritable(event, suspended ? "suspend clients in" : "resume clients in"))
        return std::move(*refused);
    const keyauth::Status valid = keyauth::check_client_id(id);
    keyauth::Result<bool> changed =
        valid ? store_->set_suspended(std::string(id), suspended) : valid.error();
    add_revision(event);
    event.result = changed ? keyauth::Status() : keyauth::Status(changed.error());
    if (changed && !*changed)
        event.add("unchanged", "yes");
    keyauth::audit(event);
    if (!changed)
        return error_response(changed.error());
    auto registry = store_->open_to_read();
    keyauth::ClientCredentials credentials;
    if (!registry || !(*registry)->find(id, credentials))  // deleted since: the change stands
        return json_response(200, {{"id", id}, {"suspended", suspended}, {"changed", *changed}});
    Json out = describe_client(id, credentials, now);
    out["changed"] = *changed;
    return json_response(200, out);
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
    auto registry = store_->open_to_read();
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
