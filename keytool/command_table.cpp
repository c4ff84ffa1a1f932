#include "commands.hpp"

namespace keytool {

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"init",
         "create the registry, its CA and the server certificate",
         "usage: keytool [--registry DIR] init [--host NAME|IP]... [--group G] [--days N]\n"
         "\n"
         "Creates the registry directory, a self-signed CA (ca_cert.pem, ca_key.pem 0600)\n"
         "and a server certificate signed by it (server_cert.pem, server_key.pem 0640)\n"
         "for the broker's and NGINX's TLS listeners. Run again on a registry with\n"
         "--host or --group, it issues a new server certificate for the hosts or\n"
         "changes the readers' group, keeping the CA and every client.\n"
         "\n"
         "  --host NAME|IP  a subjectAltName of the server certificate (repeatable;\n"
         "                  default: localhost, 127.0.0.1, ::1)\n"
         "  --group G       let group G (the package's: keyauth) read the registry\n"
         "  --days N        validity of the CA and server certificate (default 3650)\n",
         {{"host", true, true}, {"group", true, false}, {"days", true, false}},
         run_init},
        {"gen",
         "register a client; save its certificate, key and token",
         "usage: keytool [--registry DIR] gen <id> [--output PREFIX] [--days N] [--zip FILE]\n"
         "                                    [--force] [--json]\n"
         "\n"
         "Registers client <id> and saves, once, PREFIX_cert.pem (0644), PREFIX_key.pem\n"
         "(0600) and PREFIX_token (0600). The key and token are never stored: keep them.\n"
         "\n"
         "  --output PREFIX  where to save (default ./<id>; a directory: DIR/<id>)\n"
         "  --days N         validity in days (default 1095)\n"
         "  --zip FILE       also save the three files as one zip bundle (0600)\n"
         "  --force          replace an existing client and existing files\n"
         "  --json           describe what was saved as JSON on stdout\n",
         {{"output", true, false},
          {"days", true, false},
          {"zip", true, false},
          {"force", false, false},
          {"json", false, false}},
         run_gen},
        {"list",
         "list the registered clients",
         "usage: keytool [--registry DIR] list [--expiring DURATION] [--state STATE]\n"
         "                                     [--unused DURATION] [--last-use FILE]... [--json]\n"
         "\n"
         "  --expiring DURATION  only clients whose credentials have not ended but end\n"
         "                       within DURATION from now (90s, 12h, 30d)\n"
         "  --state STATE        only clients in STATE now: active, suspended, expired or\n"
         "                       \"not yet valid\"\n"
         "  --unused DURATION    only clients with no use recorded within DURATION (90d)\n"
         "                       in the --last-use files: \"at least this recent\"\n"
         "                       (with --etcd, and the hosts' published last use: a\n"
         "                       host that stopped publishing is named on stderr)\n"
         "  --last-use FILE      a server's last-use file (keyauth_last_use,\n"
         "                       plugin_opt_last_use); repeat for each host: the latest\n"
         "                       wins. Adds a LAST USED column (\"never\": no record)\n"
         "  --json               one JSON array instead of the table\n",
         {{"expiring", true, false},
          {"state", true, false},
          {"unused", true, false},
          {"last-use", true, true},
          {"json", false, false}},
         run_list},
        {"show",
         "show one client: state, validity, certificate serial and fingerprint",
         "usage: keytool [--registry DIR] show <id> [--last-use FILE]... [--json]\n"
         "\n"
         "  --last-use FILE  a server's last-use file; repeat for each host: adds\n"
         "                   LAST USED, the latest any of them records\n",
         {{"last-use", true, true}, {"json", false, false}},
         run_show},
        {"del",
         "delete a client: its token and certificate stop working at once",
         "usage: keytool [--registry DIR] del <id> [--force]\n"
         "\n"
         "  --force  on a replica kept by keyauth-sync: delete on this host anyway\n"
         "           (until keyauth-sync's next digest check restores etcd's state)\n",
         {{"force", false, false}},
         run_del},
        {"rotate",
         "new certificate, key and token for a client; the old ones valid for a grace",
         "usage: keytool [--registry DIR] rotate <id> [--grace DURATION] [--output PREFIX]\n"
         "                                       [--days N] [--zip FILE] [--force] [--json]\n"
         "\n"
         "Issues client <id> a new certificate, key and token and saves them, once, as gen\n"
         "does. The replaced token and certificate stay valid for the grace (default: none,\n"
         "refused at once), at most until they expire, then are refused everywhere and\n"
         "their open sessions and streams cut, without another command. A rotation drops\n"
         "any older credentials still in grace: at most one old set is kept.\n"
         "\n"
         "  --grace DURATION  how long the replaced credentials stay valid (90s, 12h, 7d)\n"
         "  --output PREFIX   where to save (default ./<id>; a directory: DIR/<id>)\n"
         "  --days N          validity of the new credentials in days (default 1095)\n"
         "  --zip FILE        also save the three files as one zip bundle (0600)\n"
         "  --force           overwrite existing files (the old credentials' files)\n"
         "  --json            describe what was saved as JSON on stdout\n",
         {{"grace", true, false},
          {"output", true, false},
          {"days", true, false},
          {"zip", true, false},
          {"force", false, false},
          {"json", false, false}},
         run_rotate},
        {"suspend",
         "refuse a client everywhere, keeping it: its sessions and streams are cut",
         "usage: keytool [--registry DIR] suspend <id>\n"
         "\n"
         "The client's token and certificate are refused at their next check everywhere\n"
         "and its open MQTT sessions and HTTP streams cut, as del does; the client stays\n"
         "registered, and resume makes the same credentials valid again. Expiry keeps\n"
         "counting while suspended.\n",
         {},
         run_suspend},
        {"resume",
         "admit a suspended client again, with the same credentials",
         "usage: keytool [--registry DIR] resume <id>\n",
         {},
         run_resume},
        {"server-cert",
         "save the certificate clients pass as --cafile",
         "usage: keytool [--registry DIR] server-cert [--output FILE] [--force]\n"
         "       keytool [--registry DIR] server-cert --issue --host NAME|IP... --output PREFIX\n"
         "                                            [--days N] [--force]\n"
         "\n"
         "Writes the CA certificate that signed the server's and the clients'\n"
         "certificates (stdout without --output).\n"
         "With --issue, signs a new server certificate for another host of the fleet\n"
         "instead: PREFIX_cert.pem (0644) and PREFIX_key.pem (0600), with each --host\n"
         "as a subjectAltName; install them there as server_cert.pem and server_key.pem.\n",
         {{"output", true, false},
          {"force", false, false},
          {"issue", false, false},
          {"host", true, true},
          {"days", true, false}},
         run_server_cert},
        {"verify",
         "check a token: valid for which client, or why not",
         "usage: keytool [--registry DIR] verify <token>|-\n"
         "\n"
         "Exit 0 if the token is valid now, 1 if not. '-' (or no operand) reads the\n"
         "token from stdin, which keeps it out of the process list.\n",
         {},
         run_verify},
        {"serve",
         "run the web console: the clients' page and its JSON API",
         "usage: keytool [--registry DIR] [--etcd URL[,URL...]] serve [--listen ADDR:PORT]\n"
         "                [--tls] [--host NAME]... [--last-use FILE]...\n"
         "\n"
         "Prints a one-time login link as its first line, then serves the console until\n"
         "interrupted. The page and the API under /api/v1 (docs/openapi.yaml) make the\n"
         "same changes as gen, rotate, suspend, resume and del: with --etcd (or\n"
         "$KEYAUTH_ETCD) in the fleet's registry in etcd, with the CA key of --registry.\n"
         "On a host's replica kept by keyauth-sync, without --etcd, it lists but refuses\n"
         "changes.\n"
         "\n"
         "  --listen ADDR:PORT  where to listen (default 127.0.0.1:5688; port 0: any);\n"
         "                      an address that is not loopback needs --tls\n"
         "  --tls               HTTPS (TLS 1.2 and 1.3) with the registry's server certificate\n"
         "  --host NAME|IP      another name the console answers to, e.g. the server\n"
         "                      certificate's (repeatable; others get 421)\n"
         "  --last-use FILE     a server's last-use file; repeat for each host: the page\n"
         "                      shows when each client was last used (at least this\n"
         "                      recent; the latest any file records) and filters unused\n"
         "                      ones. Read again when it changes\n",
         {{"listen", true, false},
          {"tls", false, false},
          {"host", true, true},
          {"last-use", true, true}},
         run_serve},
        {"status",
         "what this host's keyauth-sync last replicated from etcd",
         "usage: keytool [--registry DIR] status [--stale-after SECONDS]\n"
         "\n"
         "Prints the clients held, the etcd revision and when keyauth-sync last heard\n"
         "from etcd. Exit 1 if that was more than SECONDS (default 30) ago: stale.\n"
         "A member of the registry's group (not its owner) sees what keyauth-sync\n"
         "last recorded beside the registry.\n",
         {{"stale-after", true, false}},
         run_status},
        {"upgrade",
         "bring the registry to this keytool's formats (the packages run it)",
         "usage: keytool [--registry DIR] upgrade\n"
         "\n"
         "Upgrades a registry an older keyauth made, in place, as any command run as its\n"
         "owner would (the servers refuse some older formats until then); prints nothing.\n"
         "Waits at most 5 s for another writer, then exits 1 saying the registry is busy.\n",
         {},
         run_upgrade},
    };
    return table;
}

}  // namespace keytool
