// Pages of the client list and the expiry calendar, read off the cursor.
#include "unit_test.hpp"

#include <ctime>
#include <vector>

#include "keyauth/client_listing.hpp"

using keyauth::ClientPage;
using keyauth::Errc;
using keyauth::ListingQuery;
using keyauth::ListOrder;
using keyauth::OpenMode;
using keyauth_test::make_credentials;
using keyauth_test::put_client;
using keyauth_test::TempRegistry;
using keyauth_test::write_registry;

namespace {

// 2026-11-30 12:00:00 UTC
constexpr std::int64_t kNow = 1796040000;
constexpr std::int64_t kDay = 86400;

// c00..c09: c0N ends N * 40 days from now; c05 has ended, c09 starts tomorrow.
void fill(const TempRegistry& temp) {
    const bool written = write_registry(temp.path(), [](keyauth::RegistryWriter& writer) {
        for (int i = 0; i < 10; ++i) {
            std::int64_t from = kNow - kDay;
            std::int64_t until = kNow + (i + 1) * 40 * kDay;
            if (i == 5)
                until = kNow - 1;
            if (i == 9)
                from = kNow + kDay;
            const std::string id = "c0" + std::to_string(i);
            if (!put_client(writer, id,
                            make_credentials(static_cast<std::uint8_t>(i), from, until)))
                return false;
        }
        return put_client(writer, "other", make_credentials(0x77, kNow - kDay, kNow + 5000 * kDay));
    });
    assert_true(written);
}

std::string ids(const ClientPage& page) {
    std::string out;
    for (const auto& record : page.records)
        out += (out.empty() ? "" : " ") + record.id;
    return out;
}

ClientPage page_of(keyauth::LocalRegistry& registry, ListingQuery query) {
    auto page = keyauth::list_clients_page(registry, query);
    assert_ok(page);
    return *page;
}

void pages_in_id_order_either_way(void**) {
    TempRegistry temp;
    fill(temp);
    auto registry = temp.open_reader();
    ListingQuery query;
    query.limit = 3;
    ClientPage page = page_of(*registry, query);
    assert_int_equal(page.total, 11);
    assert_sv_equal(ids(page), "c00 c01 c02");
    query.offset = 9;
    assert_sv_equal(ids(page_of(*registry, query)), "c09 other");
    query.offset = 11;
    assert_sv_equal(ids(page_of(*registry, query)), "");
    query.offset = 0;
    query.descending = true;
    assert_sv_equal(ids(page_of(*registry, query)), "other c09 c08");
    query.offset = 9;
    assert_sv_equal(ids(page_of(*registry, query)), "c01 c00");
}

void search_counts_every_match_and_pages_them(void**) {
    TempRegistry temp;
    fill(temp);
    auto registry = temp.open_reader();
    ListingQuery query;
    query.id_contains = "c0";
    query.limit = 4;
    query.offset = 8;
    ClientPage page = page_of(*registry, query);
    assert_int_equal(page.total, 10);
    assert_sv_equal(ids(page), "c08 c09");
    query.id_contains = "nobody";
    page = page_of(*registry, query);
    assert_int_equal(page.total, 0);
    assert_sv_equal(ids(page), "");
}

void sorts_by_expiry_and_validity_with_the_id_breaking_ties(void**) {
    TempRegistry temp;
    fill(temp);
    auto registry = temp.open_reader();
    ListingQuery query;
    query.order = ListOrder::expire;
    query.limit = 3;
    assert_sv_equal(ids(page_of(*registry, query)), "c05 c00 c01");
    query.offset = 3;
    assert_sv_equal(ids(page_of(*registry, query)), "c02 c03 c04");
    query.offset = 0;
    query.descending = true;
    assert_sv_equal(ids(page_of(*registry, query)), "other c09 c08");
    query.order = ListOrder::valid_from;
    query.descending = false;
    query.limit = 2;
    // Every one but c09 starts at the same second: ids break the tie.
    assert_sv_equal(ids(page_of(*registry, query)), "c00 c01");
    query.descending = true;
    assert_sv_equal(ids(page_of(*registry, query)), "c09 other");
}

void filters_credentials_ending_within_a_duration(void**) {
    TempRegistry temp;
    fill(temp);
    auto registry = temp.open_reader();
    ListingQuery query;
    query.ending = keyauth::ending_within(kNow, 100 * kDay);
    ClientPage page = page_of(*registry, query);
    assert_int_equal(page.total, 2);  // c00 (+40 d), c01 (+80 d); c05 has ended
    assert_sv_equal(ids(page), "c00 c01");
    query.ending = keyauth::ending_within(kNow, 0);
    assert_int_equal(page_of(*registry, query).total, 0);
}

// keytool and the console page LMDB's cursor; a server's reader pages the
// sorted lookup index: the same pages either way.
void owner_and_reader_page_alike(void**) {
    TempRegistry temp;
    fill(temp);
    auto owner = temp.open(OpenMode::read_write);
    auto reader = temp.open_reader();
    assert_non_null(owner.get());
    assert_non_null(reader.get());
    for (bool descending : {false, true}) {
        for (std::size_t offset : {0, 2, 10, 11}) {
            for (ListOrder order : {ListOrder::id, ListOrder::expire}) {
                ListingQuery query;
                query.offset = offset;
                query.limit = 3;
                query.order = order;
                query.descending = descending;
                const ClientPage a = page_of(*owner, query);
                const ClientPage b = page_of(*reader, query);
                assert_int_equal(a.total, b.total);
                assert_sv_equal(ids(a), ids(b));
            }
        }
    }
    auto counted = owner->count();
    assert_ok(counted);
    assert_int_equal(*counted, 11);
    counted = reader->count();
    assert_ok(counted);
    assert_int_equal(*counted, 11);
}

void refuses_pages_out_of_range(void**) {
    TempRegistry temp;
    auto registry = temp.open_reader();
    ListingQuery query;
    query.limit = 0;
    assert_int_equal(keyauth::list_clients_page(*registry, query).error().code,
                     Errc::invalid_argument);
    query.limit = keyauth::kMaxPageSize + 1;
    assert_int_equal(keyauth::list_clients_page(*registry, query).error().code,
                     Errc::invalid_argument);
    query.limit = 10;
    ClientPage page = page_of(*registry, query);
    assert_int_equal(page.total, 0);
}

void calendar_counts_each_month_from_this_one(void**) {
    TempRegistry temp;
    fill(temp);
    auto registry = temp.open_reader();
    auto calendar = keyauth::expiry_calendar(*registry, kNow, 4);
    assert_ok(calendar);
    assert_int_equal(calendar->expired, 1);  // c05
    assert_int_equal(calendar->months.size(), 4);
    assert_int_equal(calendar->months[0].year, 2026);
    assert_int_equal(calendar->months[0].month, 11);
    assert_int_equal(calendar->months[1].month, 12);
    assert_int_equal(calendar->months[2].year, 2027);
    assert_int_equal(calendar->months[2].month, 1);
    // +40 d = Jan 9, +80 d = Feb 18, +120 d = Mar 30 (later than the 4th month, Feb).
    assert_int_equal(calendar->months[0].count, 0);
    assert_int_equal(calendar->months[1].count, 0);
    assert_int_equal(calendar->months[2].count, 1);
    assert_int_equal(calendar->months[3].count, 1);
    assert_int_equal(calendar->later, 11 - 1 - 2);
    assert_int_equal(keyauth::expiry_calendar(*registry, kNow, 0).error().code,
                     Errc::invalid_argument);
}

void a_credential_ending_on_the_first_second_of_a_month_counts_there(void**) {
    TempRegistry temp;
    std::tm tm{};
    tm.tm_year = 2027 - 1900;
    tm.tm_mon = 0;
    tm.tm_mday = 1;
    const std::int64_t january = timegm(&tm);
    assert_true(write_registry(temp.path(), [&](keyauth::RegistryWriter& writer) {
        return put_client(writer, "edge", make_credentials(1, kNow - kDay, january)) &&
               put_client(writer, "before", make_credentials(2, kNow - kDay, january - 1));
    }));
    auto registry = temp.open_reader();
    auto calendar = keyauth::expiry_calendar(*registry, kNow, 3);
    assert_ok(calendar);
    assert_int_equal(calendar->months[1].count, 1);  // December: "before"
    assert_int_equal(calendar->months[2].count, 1);  // January: "edge"
}

void state_follows_the_validity_window(void**) {
    const auto c = make_credentials(1, 100, 200);
    assert_sv_equal(keyauth::state_name(keyauth::client_state(c, 99)), "not yet valid");
    assert_sv_equal(keyauth::state_name(keyauth::client_state(c, 100)), "active");
    assert_sv_equal(keyauth::state_name(keyauth::client_state(c, 200)), "active");
    assert_sv_equal(keyauth::state_name(keyauth::client_state(c, 201)), "expired");
    auto suspended = c;
    suspended.suspended = true;
    for (std::int64_t now : {99, 150, 201})
        assert_sv_equal(keyauth::state_name(keyauth::client_state(suspended, now)), "suspended");
}

void state_names_read_back(void**) {
    for (const auto state : {keyauth::ClientState::active, keyauth::ClientState::not_yet_valid,
                             keyauth::ClientState::expired, keyauth::ClientState::suspended}) {
        const auto named = keyauth::state_named(keyauth::state_name(state));
        assert_true(named.has_value());
        assert_int_equal(static_cast<int>(*named), static_cast<int>(state));
    }
    for (const char* other : {"", "Active", "not_yet_valid", "suspended ", "unknown"})
        assert_false(keyauth::state_named(other).has_value());
}

// c05 has ended, c09 starts tomorrow, the rest are active: totals and pages
// count only the state asked for.
void filters_clients_in_one_state(void**) {
    TempRegistry temp;
    fill(temp);
    auto registry = temp.open_reader();
    ListingQuery query;
    query.limit = 3;
    query.in_state = keyauth::InState{keyauth::ClientState::expired, kNow};
    ClientPage page = page_of(*registry, query);
    assert_int_equal(page.total, 1);
    assert_sv_equal(ids(page), "c05");
    query.in_state = keyauth::InState{keyauth::ClientState::not_yet_valid, kNow};
    assert_sv_equal(ids(page_of(*registry, query)), "c09");
    query.in_state = keyauth::InState{keyauth::ClientState::active, kNow};
    page = page_of(*registry, query);
    assert_int_equal(page.total, 9);
    assert_sv_equal(ids(page), "c00 c01 c02");
    query.offset = 6;
    assert_sv_equal(ids(page_of(*registry, query)), "c07 c08 other");
    query.offset = 0;
    query.in_state = keyauth::InState{keyauth::ClientState::suspended, kNow};
    assert_int_equal(page_of(*registry, query).total, 0);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pages_in_id_order_either_way),
        cmocka_unit_test(search_counts_every_match_and_pages_them),
        cmocka_unit_test(sorts_by_expiry_and_validity_with_the_id_breaking_ties),
        cmocka_unit_test(filters_credentials_ending_within_a_duration),
        cmocka_unit_test(owner_and_reader_page_alike),
        cmocka_unit_test(refuses_pages_out_of_range),
        cmocka_unit_test(calendar_counts_each_month_from_this_one),
        cmocka_unit_test(a_credential_ending_on_the_first_second_of_a_month_counts_there),
        cmocka_unit_test(state_follows_the_validity_window),
        cmocka_unit_test(state_names_read_back),
        cmocka_unit_test(filters_clients_in_one_state),
    };
    return run_group(tests);
}
