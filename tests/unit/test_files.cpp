// Files keytool hands out: exclusive creation, never through a link, exact
// modes whatever the umask, all-or-nothing publication.
#include "unit_test.hpp"

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <vector>

#include "keyauth/files.hpp"
#include "keyauth/staged_files.hpp"

using keyauth::Errc;
using keyauth::StagedFiles;
using keyauth::write_file_exclusive;
using keyauth_test::TempDir;

namespace {

std::string contents_of(const std::string& path) {
    auto text = keyauth::read_small_file(path);
    return text ? *text : std::string("<unreadable>");
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0)
        return 0;
    return st.st_mode;
}

bool exists(const std::string& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
}

// Every name in dir, sorted: proves no temporary file is left behind.
std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> names;
    DIR* d = opendir(dir.c_str());
    while (dirent* entry = readdir(d)) {
        const std::string name = entry->d_name;
        if (name != "." && name != "..")
            names.push_back(name);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

void assert_names(const std::string& dir, const std::vector<std::string>& expected) {
    const std::vector<std::string> names = names_in(dir);
    std::string joined;
    for (const auto& n : names)
        joined += n + " ";
    std::string wanted;
    for (const auto& n : expected)
        wanted += n + " ";
    assert_sv_equal(joined, wanted);
}

class Umask {
  public:
    explicit Umask(mode_t mask) : old_(umask(mask)) {}
    ~Umask() { umask(old_); }

  private:
    mode_t old_;
};

void writes_contents_with_exact_mode_under_any_umask(void**) {
    for (mode_t mask : {mode_t{077}, mode_t{0}, mode_t{022}, mode_t{0777}}) {
        TempDir dir;
        Umask scoped(mask);
        assert_ok(write_file_exclusive(dir / "key.pem", "secret\n", 0600, false));
        assert_ok(write_file_exclusive(dir / "cert.pem", "public\n", 0644, false));
        assert_ok(write_file_exclusive(dir / "server.pem", "group\n", 0640, false));
        assert_int_equal(mode_of(dir / "key.pem"), S_IFREG | 0600);
        assert_int_equal(mode_of(dir / "cert.pem"), S_IFREG | 0644);
        assert_int_equal(mode_of(dir / "server.pem"), S_IFREG | 0640);
        assert_sv_equal(contents_of(dir / "key.pem"), "secret\n");
        assert_sv_equal(contents_of(dir / "cert.pem"), "public\n");
        assert_names(dir.path(), {"cert.pem", "key.pem", "server.pem"});
    }
}

void writes_binary_and_empty_contents(void**) {
    TempDir dir;
    const std::string binary("a\0b\xff\n", 5);
    assert_ok(write_file_exclusive(dir / "bin", binary, 0600, false));
    assert_sv_equal(contents_of(dir / "bin"), binary);
    assert_ok(write_file_exclusive(dir / "empty", "", 0600, false));
    assert_sv_equal(contents_of(dir / "empty"), "");
}

void refuses_existing_file_and_leaves_it_alone(void**) {
    TempDir dir;
    assert_ok(write_file_exclusive(dir / "f", "old", 0644, false));
    const keyauth::Status status = write_file_exclusive(dir / "f", "new", 0600, false);
    assert_code(status, Errc::already_exists);
    assert_sv_equal(status.error().message, dir / "f" + " already exists");
    assert_sv_equal(contents_of(dir / "f"), "old");
    assert_int_equal(mode_of(dir / "f"), S_IFREG | 0644);
    assert_names(dir.path(), {"f"});
}

void refuses_existing_symlink_without_touching_target(void**) {
    TempDir dir;
    assert_ok(write_file_exclusive(dir / "target", "precious", 0644, false));
    assert_int_equal(symlink((dir / "target").c_str(), (dir / "link").c_str()), 0);
    assert_code(write_file_exclusive(dir / "link", "attack", 0600, false), Errc::already_exists);
    assert_sv_equal(contents_of(dir / "target"), "precious");
    assert_int_equal(mode_of(dir / "target"), S_IFREG | 0644);
    assert_true(S_ISLNK(mode_of(dir / "link")));
}

void refuses_dangling_symlink_without_creating_its_target(void**) {
    TempDir dir;
    assert_int_equal(symlink((dir / "created-through-link").c_str(), (dir / "link").c_str()), 0);
    assert_code(write_file_exclusive(dir / "link", "attack", 0600, false), Errc::already_exists);
    assert_false(exists(dir / "created-through-link"));
    assert_names(dir.path(), {"link"});
}

void overwrite_replaces_a_symlink_instead_of_writing_through_it(void**) {
    TempDir dir;
    assert_ok(write_file_exclusive(dir / "target", "precious", 0644, false));
    assert_int_equal(symlink((dir / "target").c_str(), (dir / "link").c_str()), 0);
    assert_ok(write_file_exclusive(dir / "link", "fresh", 0600, true));
    assert_int_equal(mode_of(dir / "link"), S_IFREG | 0600);
    assert_sv_equal(contents_of(dir / "link"), "fresh");
    assert_sv_equal(contents_of(dir / "target"), "precious");
    assert_names(dir.path(), {"link", "target"});
}

void overwrite_replaces_a_file_with_the_new_mode(void**) {
    TempDir dir;
    Umask scoped(0);
    assert_ok(write_file_exclusive(dir / "f", "old contents, longer", 0666, false));
    assert_ok(write_file_exclusive(dir / "f", "new", 0600, true));
    assert_sv_equal(contents_of(dir / "f"), "new");
    assert_int_equal(mode_of(dir / "f"), S_IFREG | 0600);
    assert_names(dir.path(), {"f"});
}

void overwrite_never_replaces_a_directory(void**) {
    TempDir dir;
    assert_int_equal(mkdir((dir / "d").c_str(), 0700), 0);
    assert_code(write_file_exclusive(dir / "d", "x", 0600, true), Errc::already_exists);
    assert_true(S_ISDIR(mode_of(dir / "d")));
}

void missing_directory_is_not_found(void**) {
    TempDir dir;
    assert_code(write_file_exclusive(dir / "no/such/file", "x", 0600, false), Errc::not_found);
    assert_names(dir.path(), {});
}

void unwritable_directory_is_permission_denied(void**) {
    if (geteuid() == 0) {
        print_message("running as root: directory permissions do not apply\n");
        skip();
    }
    TempDir dir;
    assert_int_equal(mkdir((dir / "ro").c_str(), 0500), 0);
    assert_code(write_file_exclusive(dir / "ro/f", "x", 0600, false), Errc::permission_denied);
    chmod((dir / "ro").c_str(), 0700);
}

void sets_the_group(void**) {
    TempDir dir;
    assert_ok(write_file_exclusive(dir / "f", "x", 0640, false, getegid()));
    struct stat st {};
    assert_int_equal(stat((dir / "f").c_str(), &st), 0);
    assert_int_equal(st.st_gid, getegid());
    assert_int_equal(st.st_mode & 07777, 0640);
}

void staged_files_appear_only_on_publish(void**) {
    TempDir dir;
    StagedFiles files;
    assert_ok(files.stage(dir / "a_cert.pem", "cert", 0644, false));
    assert_ok(files.stage(dir / "a_key.pem", "key", 0600, false));
    assert_ok(files.stage(dir / "a_token", "token", 0600, false));
    assert_int_equal(files.paths().size(), 3);
    assert_names(dir.path(), {});
    assert_ok(files.publish());
    assert_names(dir.path(), {"a_cert.pem", "a_key.pem", "a_token"});
    assert_sv_equal(contents_of(dir / "a_key.pem"), "key");
    assert_int_equal(mode_of(dir / "a_cert.pem"), S_IFREG | 0644);
}

void staged_files_vanish_if_never_published(void**) {
    TempDir dir;
    {
        StagedFiles files;
        assert_ok(files.stage(dir / "a", "1", 0600, false));
    }
    assert_names(dir.path(), {});
}

void rollback_removes_what_was_published(void**) {
    TempDir dir;
    StagedFiles files;
    assert_ok(files.stage(dir / "a", "1", 0600, false));
    assert_ok(files.stage(dir / "b", "2", 0600, false));
    assert_ok(files.publish());
    files.rollback();
    assert_names(dir.path(), {});
}

void stage_fails_early_on_existing_file(void**) {
    TempDir dir;
    assert_ok(write_file_exclusive(dir / "b", "old", 0600, false));
    StagedFiles files;
    assert_ok(files.stage(dir / "a", "1", 0600, false));
    assert_code(files.stage(dir / "b", "2", 0600, false), Errc::already_exists);
    assert_int_equal(files.paths().size(), 1);
}

void publish_is_all_or_nothing(void**) {
    TempDir dir;
    StagedFiles files;
    assert_ok(files.stage(dir / "a", "1", 0600, false));
    assert_ok(files.stage(dir / "b", "2", 0600, false));
    // Someone takes the second name between staging and publishing.
    assert_ok(write_file_exclusive(dir / "b", "theirs", 0644, false));
    assert_code(files.publish(), Errc::already_exists);
    assert_names(dir.path(), {"b"});
    assert_sv_equal(contents_of(dir / "b"), "theirs");
}

// gen --force: a publication that fails part-way leaves the old files.
void failed_overwrite_publish_keeps_the_old_files(void**) {
    TempDir dir;
    assert_ok(write_file_exclusive(dir / "a_token", "old token", 0600, false));
    StagedFiles files;
    assert_ok(files.stage(dir / "a_token", "new token", 0600, true));
    assert_ok(files.stage(dir / "a_key.pem", "new key", 0600, true));
    // The second publication fails: a directory took its name meanwhile.
    assert_int_equal(mkdir((dir / "a_key.pem").c_str(), 0700), 0);
    assert_false(files.publish().ok());
    assert_sv_equal(contents_of(dir / "a_token"), "old token");
    assert_true(S_ISDIR(mode_of(dir / "a_key.pem")));
    assert_names(dir.path(), {"a_key.pem", "a_token"});
}

// gen --force whose registry commit fails: rollback brings back the old
// files, links included, and the backups vanish with the set.
void rollback_after_overwrite_restores_what_was_there(void**) {
    TempDir dir;
    assert_ok(write_file_exclusive(dir / "a_token", "old token", 0600, false));
    assert_ok(write_file_exclusive(dir / "target", "precious", 0644, false));
    assert_int_equal(symlink((dir / "target").c_str(), (dir / "a_key.pem").c_str()), 0);
    {
        StagedFiles files;
        assert_ok(files.stage(dir / "a_token", "new token", 0600, true));
        assert_ok(files.stage(dir / "a_key.pem", "new key", 0600, true));
        assert_ok(files.stage(dir / "a_cert.pem", "new cert", 0644, true));
        assert_ok(files.publish());
        assert_sv_equal(contents_of(dir / "a_token"), "new token");
        assert_int_equal(mode_of(dir / "a_key.pem"), S_IFREG | 0600);
        files.rollback();
    }
    assert_sv_equal(contents_of(dir / "a_token"), "old token");
    assert_true(S_ISLNK(mode_of(dir / "a_key.pem")));
    assert_sv_equal(contents_of(dir / "target"), "precious");
    assert_names(dir.path(), {"a_key.pem", "a_token", "target"});
}

void published_overwrite_leaves_no_backups(void**) {
    TempDir dir;
    assert_ok(write_file_exclusive(dir / "a_token", "old token", 0600, false));
    {
        StagedFiles files;
        assert_ok(files.stage(dir / "a_token", "new token", 0600, true));
        assert_ok(files.publish());
    }
    assert_sv_equal(contents_of(dir / "a_token"), "new token");
    assert_names(dir.path(), {"a_token"});
}

void read_small_file_refusals(void**) {
    TempDir dir;
    auto missing = keyauth::read_small_file(dir / "missing");
    assert_false(missing.ok());
    assert_int_equal(static_cast<int>(missing.error().code), static_cast<int>(Errc::not_found));
    auto directory = keyauth::read_small_file(dir.path());
    assert_false(directory.ok());
    assert_int_equal(static_cast<int>(directory.error().code),
                     static_cast<int>(Errc::invalid_argument));
    assert_ok(write_file_exclusive(dir / "big", std::string((1 << 20) + 1, 'x'), 0600, false));
    auto big = keyauth::read_small_file(dir / "big");
    assert_false(big.ok());
    assert_int_equal(static_cast<int>(big.error().code), static_cast<int>(Errc::invalid_argument));
    assert_ok(write_file_exclusive(dir / "limit", std::string(1 << 20, 'x'), 0600, false));
    assert_int_equal(keyauth::read_small_file(dir / "limit")->size(), 1 << 20);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_contents_with_exact_mode_under_any_umask),
        cmocka_unit_test(writes_binary_and_empty_contents),
        cmocka_unit_test(refuses_existing_file_and_leaves_it_alone),
        cmocka_unit_test(refuses_existing_symlink_without_touching_target),
        cmocka_unit_test(refuses_dangling_symlink_without_creating_its_target),
        cmocka_unit_test(overwrite_replaces_a_symlink_instead_of_writing_through_it),
        cmocka_unit_test(overwrite_replaces_a_file_with_the_new_mode),
        cmocka_unit_test(overwrite_never_replaces_a_directory),
        cmocka_unit_test(missing_directory_is_not_found),
        cmocka_unit_test(unwritable_directory_is_permission_denied),
        cmocka_unit_test(sets_the_group),
        cmocka_unit_test(staged_files_appear_only_on_publish),
        cmocka_unit_test(staged_files_vanish_if_never_published),
        cmocka_unit_test(rollback_removes_what_was_published),
        cmocka_unit_test(stage_fails_early_on_existing_file),
        cmocka_unit_test(publish_is_all_or_nothing),
        cmocka_unit_test(failed_overwrite_publish_keeps_the_old_files),
        cmocka_unit_test(rollback_after_overwrite_restores_what_was_there),
        cmocka_unit_test(published_overwrite_leaves_no_backups),
        cmocka_unit_test(read_small_file_refusals),
    };
    return run_group(tests);
}
