#!/usr/bin/env bash
# The Debian packages end to end, as root on a Debian 12 machine without
# keyauth: builds them with the README's commands in a clean copy of the tree,
# installs them, runs Debian's own nginx and mosquitto with their packaged
# configuration plus the README's keyauth snippets (started as their init
# scripts start them, on free loopback ports), runs the seed's flows with the
# README's commands, lintian, then remove, reinstall and purge, checking what
# is left after each. Servers it did not start are never touched.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
packages=(keyauth-tools libnginx-mod-http-keyauth mosquitto-keyauth)

# The test installs and purges keyauth and deletes what its install made:
# it refuses to run where keyauth is already in use.
for p in "${packages[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed'; then
        echo "package test: $p is on this machine; run it where keyauth is not installed" >&2
        exit 1
    fi
done
if [ -e /var/lib/keyauth ] || getent group keyauth >/dev/null; then
    echo "package test: /var/lib/keyauth or group keyauth exists; run it where keyauth is not installed" >&2
    exit 1
fi

export KEYTOOL=/usr/sbin/keytool TESTLIB=$top/tests/integration/lib.sh
source "$TESTLIB"   # $WORK (our cwd), free_port, expect_*, fail, at_exit, readme_block, readme_run
source "$top/tests/lib/mosquitto.sh"  # mosquitto_wait_running
source "$top/tests/lib/nginx.sh"      # nginx_stop
unset KEYAUTH_REGISTRY
unset -f keytool
# root's PATH, as sudo gives it: /usr/sbin before /usr/bin.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
passed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
# apt as the README runs it, without a terminal: yes to its question, and
# wait for a dpkg lock another apt holds.
printf 'APT::Get::Assume-Yes "true";\nDPkg::Lock::Timeout "300";\n' >"$WORK/apt.conf"
export APT_CONFIG=$WORK/apt.conf DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -q "$@"; }

forget_install() {
    apt_get purge "${packages[@]}" >/dev/null 2>&1 || true
    rm -rf /var/lib/keyauth
    if getent group keyauth >/dev/null; then delgroup --quiet keyauth || true; fi
    rm -f /etc/nginx/modules-enabled/50-mod-http-keyauth.conf.removed
}
at_exit forget_install

echo "== build with the README's commands, in a clean copy of the tree"
mkdir -p src/keyauth
git -C "$top" ls-files -z --cached --others --exclude-standard |
    (cd "$top" && tar --null -T - -cf -) | tar -xf - -C src/keyauth
export DEB_BUILD_OPTIONS="parallel=$(nproc)"
(cd src/keyauth && readme_run build) >build.log 2>&1 || { tail -40 build.log; fail "README build and install"; }
for p in "${packages[@]}"; do
    expect_eq "$(dpkg-query -W -f='${Status}' "$p")" "install ok installed" "$p installed"
done
ok "README: apt-get build-dep, dpkg-buildpackage -us -uc -b, apt install ../*.deb"

echo "== lintian"
lintian --fail-on error,warning src/keyauth_*.changes >lintian.out 2>&1 || { cat lintian.out; fail "lintian"; }
ok "lintian: no error, no warning"

echo "== what the install made"
expect_eq "$(command -v keytool)" "/usr/sbin/keytool" "keytool on root's PATH"
expect_eq "$(keytool --version)" "keytool (keyauth) $(dpkg-query -W -f='${Version}' keyauth-tools)" "keytool --version"
expect_eq "$(man -w 8 keytool)" "/usr/share/man/man8/keytool.8.gz" "keytool(8)"
unit=$(dpkg -L keyauth-tools | grep '/systemd/system/keyauth-sync\.service$') ||
    fail "keyauth-sync.service not in keyauth-tools"
expect_contains "$(cat "$unit")" "ConditionPathExists=/etc/keyauth/sync.conf" "the unit waits for its configuration"
systemd-analyze verify "$unit" >unit-verify.out 2>&1 || { cat unit-verify.out; fail "systemd-analyze verify $unit"; }
expect_contains "$(cat "$unit")" "ReadOnlyPaths=-/var/lib/dpkg" "the unit keeps dpkg's database read-only"
[ ! -e /etc/systemd/system/multi-user.target.wants/keyauth-sync.service ] ||
    fail "keyauth-sync.service enabled before it is configured"
[ -e /usr/share/doc/keyauth-tools/examples/sync.conf ] || fail "no example sync.conf"
[ -f /usr/share/doc/keyauth-tools/examples/prometheus/keyauth.rules.yml ] || fail "no example Prometheus rules"
version=$(dpkg-query -W -f='${Version}' keyauth-tools)
for page in $(man -w 8 keytool mosquitto_keyauth ngx_http_keyauth_module); do
    zcat "$page" | head -1 | grep -q "\"keyauth $version\"" || fail "$page does not say keyauth $version"
done
expect_eq "$(stat -c '%U:%G %a' /var/lib/keyauth/data.mdb /var/lib/keyauth/server_key.pem /var/lib/keyauth/ca_key.pem | paste -sd' ')" \
    "root:keyauth 640 root:keyauth 640 root:root 600" "registry modes"
sans=$(openssl x509 -in /var/lib/keyauth/server_cert.pem -noout -ext subjectAltName)
for name in "DNS:$(hostname)" "DNS:localhost" "IP Address:127.0.0.1" "IP Address:0:0:0:0:0:0:0:1"; do
    expect_contains "$sans" "$name" "server certificate names"
done
expect_contains " $(id -nG mosquitto) " " keyauth " "mosquitto in group keyauth"
expect_not_contains " $(id -nG www-data) " " keyauth " "www-data left out of group keyauth"
expect_eq "$(readlink /etc/nginx/modules-enabled/50-mod-http-keyauth.conf)" \
    "/usr/share/nginx/modules-available/mod-http-keyauth.conf" "modules-enabled link"
expect_eq "$(cat /usr/share/nginx/modules-available/mod-http-keyauth.conf)" \
    "load_module modules/ngx_http_keyauth_module.so;" "module snippet"
expect_contains "$(dpkg-query -W -f='${Depends}' libnginx-mod-http-keyauth)" \
    "$(apt-cache show nginx | sed -n 's/^Provides:.*\(nginx-abi-[^ ,]*\).*/\1/p' | head -1)" "nginx ABI dependency"
[ -f /usr/lib/x86_64-linux-gnu/mosquitto/mosquitto_keyauth.so ] || fail "plugin path"
[ -f /usr/share/doc/mosquitto-keyauth/examples/keyauth.conf ] || fail "broker examples"
[ -f /usr/share/doc/libnginx-mod-http-keyauth/examples/keyauth-proxy.conf ] || fail "nginx examples"
ok "group, registry, paths, man pages, ABI dependency, modules-enabled link"

echo "== README: gen right after the install"
readme_run gen >gen.out 2>&1 || { cat gen.out; fail "README gen"; }
expect_eq "$(stat -c %a myapp01_key.pem myapp01_token myapp01_cert.pem | paste -sd' ')" "600 600 644" "file modes"
ok "keytool gen myapp01 with no other step"

echo "== bash completion"
completion() {  # completion WORDS...: what <TAB> offers after them
    bash -c 'source /usr/share/bash-completion/bash_completion
        source /usr/share/bash-completion/completions/keytool
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _keytool; printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd" "' _ "$@"
}
expect_eq "$(completion keytool '')" \
    "del gen init list resume rotate serve server-cert show status suspend upgrade verify" "commands"
expect_eq "$(completion keytool gen --)" "--days --force --help --json --output --zip" "gen options"
expect_eq "$(completion keytool rotate --)" "--days --force --grace --help --json --output --zip" \
    "rotate options"
expect_eq "$(completion keytool serve --)" "--etcd --help --host --last-use --listen --tls" "serve options"
expect_eq "$(completion keytool list --)" "--expiring --help --json --last-use --state --unused" \
    "list options"
expect_eq "$(completion keytool status --)" "--help --stale-after" "status options"
expect_eq "$(completion keytool del my)" "myapp01" "registered ids"
for command in rotate suspend resume; do
    expect_eq "$(completion keytool $command my)" "myapp01" "registered ids for $command"
done
ok "bash completion of commands, options and ids"

echo "== Debian's mosquitto, packaged configuration plus the README's snippet"
MQTT_PORT=$(free_port)
MQTTS_PORT=$(free_port)
mq=$WORK/mosquitto
mkdir -p "$mq/conf.d" "$mq/data" "$mq/run"
touch "$mq/mosquitto.log"
# The broker writes these as the mosquitto user, as in /run/mosquitto.
chown mosquitto "$mq/data" "$mq/run" "$mq/mosquitto.log"
sed -e "s|^pid_file .*|pid_file $mq/run/mosquitto.pid|" \
    -e "s|^persistence_location .*|persistence_location $mq/data/|" \
    -e "s|^log_dest file .*|log_dest file $mq/mosquitto.log|" \
    -e "s|^include_dir .*|include_dir $mq/conf.d|" /etc/mosquitto/mosquitto.conf >"$mq/mosquitto.conf"
readme_run mosquitto "s|/etc/mosquitto/conf.d/|$mq/conf.d/|" "/systemctl/d"
sed -i "s|^listener 1883 127.0.0.1$|listener $MQTT_PORT 127.0.0.1|" "$mq/conf.d/keyauth.conf"
sed "s|^listener 8883$|listener $MQTTS_PORT 127.0.0.1|" \
    /usr/share/doc/mosquitto-keyauth/examples/keyauth-tls.conf >"$mq/conf.d/keyauth-tls.conf"
grep -q "^listener $MQTT_PORT " "$mq/conf.d/keyauth.conf" || fail "the example's listener line changed"
# As /etc/init.d/mosquitto starts it.
start-stop-daemon --start --background --make-pidfile --pidfile "$mq/ssd.pid" \
    --exec /usr/sbin/mosquitto -- -c "$mq/mosquitto.conf"
at_exit "kill \$(cat '$mq/ssd.pid' 2>/dev/null) 2>/dev/null"
mosquitto_wait_running "$(cat "$mq/ssd.pid")" "$mq/mosquitto.log"
expect_contains "$(cat "$mq/mosquitto.log")" "keyauth: MQTT token authentication enabled" "broker log"
expect_eq "$(ps -o user= -p "$(cat "$mq/ssd.pid")")" "mosquitto" "broker dropped to mosquitto"
out=$(readme_run mosquitto-token "s/-p 1883/-p $MQTT_PORT/" 2>&1) || fail "README token publish: $out"
out=$(readme_run mosquitto-cert "s/-p 8883/-p $MQTTS_PORT/" 2>&1) || fail "README certificate publish: $out"
if out=$(mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" --username "myapp01:b:$(printf '0%.0s' $(seq 64))" -t t -m x 2>&1); then
    fail "forged token published"
fi
expect_contains "$out" "not authori" "forged token refused"
ok "mosquitto_pub with the token and with the certificate over TLS; forged token refused"

echo "== Debian's nginx, packaged configuration plus the README's snippets"
HTTP_PORT=$(free_port)
UP=$(free_port)
ng=$WORK/nginx
mkdir -p "$ng/conf.d" "$ng/logs"
user_line=$(readme_block nginx-user)
expect_eq "$user_line" "user www-data keyauth;" "README's user line"
sed -e "s|^user www-data;|$user_line|" \
    -e "s|^pid .*|pid $ng/logs/nginx.pid;|" \
    -e "s|/var/log/nginx/|$ng/logs/|g" \
    -e "s|include /etc/nginx/conf.d/\*.conf;|include $ng/conf.d/*.conf;|" \
    -e "\|include /etc/nginx/sites-enabled/\*;|d" /etc/nginx/nginx.conf >"$ng/nginx.conf"
grep -q "include /etc/nginx/modules-enabled/\*.conf;" "$ng/nginx.conf" || fail "packaged nginx.conf changed"
readme_block nginx-conf | sed -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$HTTP_PORT;|" \
    -e "s|http://127.0.0.1:5654;|http://127.0.0.1:$UP;|" >"$ng/conf.d/keyauth.conf"
cat >"$ng/conf.d/api.conf" <<EOF
server {
    listen 127.0.0.1:$UP;
    location / { return 200 "client=\$http_x_client_id\n"; }
}
EOF
/usr/sbin/nginx -t -c "$ng/nginx.conf" >nginx-t.out 2>&1 || { cat nginx-t.out; fail "nginx -t"; }
# As /etc/init.d/nginx starts it.
start-stop-daemon --start --pidfile "$ng/logs/nginx.pid" --exec /usr/sbin/nginx -- -c "$ng/nginx.conf"
at_exit "nginx_stop '$ng'"
wait_for_port "$HTTP_PORT"
# (a worker just forked is still root for a moment)
for _ in $(seq 50); do
    workers=$(ps -o user=,group= --ppid "$(cat "$ng/logs/nginx.pid")" | sort -u | tr -s ' ')
    [ "$workers" == "www-data keyauth" ] && break
    sleep 0.1
done
expect_eq "$workers" "www-data keyauth" "workers' user and group"
out=$(readme_run nginx-curl "s|127.0.0.1:8080|127.0.0.1:$HTTP_PORT|" 2>/dev/null)
expect_eq "$out" "client=myapp01" "README curl"
out=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer wrong" "http://127.0.0.1:$HTTP_PORT/db/query")
expect_eq "$out" '{"success":false,"reason":"invalid token"} 401' "wrong token"
ok "curl with the token through Debian's nginx; wrong token 401"

echo "== revocation seen by both servers"
keytool del myapp01 >/dev/null
expect_contains "$(readme_run nginx-curl "s|127.0.0.1:8080|127.0.0.1:$HTTP_PORT|" 's|$| -w " %{http_code}"|' 2>/dev/null)" " 401" "deleted token, nginx"
if readme_run mosquitto-token "s/-p 1883/-p $MQTT_PORT/" 2>/dev/null; then fail "deleted token, broker"; fi
ok "keytool del refuses the client in both servers"
kill "$(cat "$mq/ssd.pid")"
nginx_stop "$ng"
for _ in $(seq 50); do
    kill -0 "$(cat "$mq/ssd.pid")" 2>/dev/null || break
    sleep 0.1
done
rm -f "$mq/ssd.pid"

echo "== apt remove"
keytool gen kept01 >/dev/null
apt_get remove "${packages[@]}" >remove.out 2>&1 || { cat remove.out; fail "apt remove"; }
[ ! -e /usr/sbin/keytool ] || fail "keytool left after remove"
[ ! -e /etc/nginx/modules-enabled/50-mod-http-keyauth.conf ] || fail "module still enabled after remove"
[ -L /etc/nginx/modules-enabled/50-mod-http-keyauth.conf.removed ] || fail "no .removed link, as Debian's modules leave"
/usr/sbin/nginx -t >nginx-t.out 2>&1 || { cat nginx-t.out; fail "nginx -t after remove"; }
[ -f /var/lib/keyauth/ca_key.pem ] || fail "remove deleted the registry"
ok "remove: module link set aside, nginx -t passes, registry kept"

echo "== reinstall"
apt_get install ./src/keyauth-tools_*.deb ./src/libnginx-mod-http-keyauth_*.deb ./src/mosquitto-keyauth_*.deb >install.out 2>&1 ||
    { cat install.out; fail "reinstall"; }
[ -L /etc/nginx/modules-enabled/50-mod-http-keyauth.conf ] || fail "link not restored on reinstall"
expect_not_contains "$(cat install.out)" "created the registry" "registry not recreated"
expect_contains "$(keytool list)" "kept01" "clients kept across remove and reinstall"
ok "reinstall: link restored, registry and clients as they were"

echo "== reinstall over a registry an older keyauth made (0.1: lock.mdb, no lookup.idx)"
# As an upgrade from 0.1 finds it: the servers' user is refused until the
# registry's owner opens it; the package's configure must do that itself.
mkdir older && tar -xzf "$top/tests/fixtures/registry-0.1.0.tar.gz" -C older
rm -rf /var/lib/keyauth
mv older/registry /var/lib/keyauth
chgrp -R keyauth /var/lib/keyauth
chmod 2750 /var/lib/keyauth
install -m 660 -g keyauth /dev/null /var/lib/keyauth/lock.mdb
as_broker() { setpriv --reuid=mosquitto --regid=mosquitto --init-groups "$@"; }
out=$(as_broker keytool verify - <older/alice_token 2>&1) && fail "the broker's user read a 0.1 registry: $out"
expect_contains "$out" "made by an older keyauth" "the servers' user before the configure"
dpkg -i ./src/keyauth-tools_*.deb >upgrade.out 2>&1 || { cat upgrade.out; fail "dpkg -i over a 0.1 registry"; }
expect_not_contains "$(cat upgrade.out)" "could not" "configure over a 0.1 registry"
out=$(as_broker keytool verify - <older/alice_token 2>&1) || fail "the broker's user after the configure: $out"
expect_contains "$out" "valid: client alice" "alice's 0.1 token, as the broker's user"
[ ! -e /var/lib/keyauth/lock.mdb ] || fail "lock.mdb left after the configure"
/usr/sbin/nginx -t -c "$ng/nginx.conf" >nginx-t.out 2>&1 || { cat nginx-t.out; fail "nginx -t (keyauth on) after the configure"; }
ok "reinstall over a 0.1 registry: the configure upgrades it, the servers' user verifies a 0.1 token"

echo "== apt purge"
apt_get purge "${packages[@]}" >purge.out 2>&1 || { cat purge.out; fail "apt purge"; }
expect_contains "$(cat purge.out)" "kept the registry /var/lib/keyauth" "purge says what it kept"
[ -f /var/lib/keyauth/ca_key.pem ] || fail "purge deleted the CA key"
[ -z "$(ls /etc/nginx/modules-enabled/ | grep keyauth)" ] || fail "module links left after purge"
expect_not_contains " $(id -nG mosquitto) " " keyauth " "mosquitto's group membership after purge"
for p in "${packages[@]}"; do
    expect_eq "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | tr -d ' ' || true)" "" "$p after purge"
done
/usr/sbin/nginx -t >nginx-t.out 2>&1 || { cat nginx-t.out; fail "nginx -t after purge"; }
ok "purge: links and group membership gone, registry kept and reported, nginx -t passes"

echo "== install beside a keyauth group an administrator made (a normal group)"
rm -rf /var/lib/keyauth
if getent group keyauth >/dev/null; then delgroup --quiet keyauth; fi
groupadd keyauth
gid=$(getent group keyauth | cut -d: -f3)
apt_get install ./src/keyauth-tools_*.deb ./src/mosquitto-keyauth_*.deb >install.out 2>&1 ||
    { cat install.out; fail "install beside a normal group keyauth"; }
for p in keyauth-tools mosquitto-keyauth; do
    expect_eq "$(dpkg-query -W -f='${Status}' "$p")" "install ok installed" "$p configured beside a normal group"
done
expect_eq "$(getent group keyauth | cut -d: -f3)" "$gid" "the administrator's group kept"
expect_eq "$(stat -c '%G' /var/lib/keyauth/data.mdb)" "keyauth" "registry in that group"
expect_contains " $(id -nG mosquitto) " " keyauth " "mosquitto in that group"
apt_get purge keyauth-tools mosquitto-keyauth >purge.out 2>&1 || { cat purge.out; fail "purge"; }
ok "install beside a normal group keyauth: configured, the group kept and used"

echo "package: $passed passed, 0 failed"
