#!/bin/bash
# Builds ngx_http_keyauth_module.so against Debian's nginx-dev, the way the
# distribution's own dynamic modules are built, so that it loads into
# /usr/sbin/nginx.
#
#   build-with-nginx-dev.sh configure NGINX_DEV_SRC TREE BUILDDIR MODULE_DIR
#   build-with-nginx-dev.sh make TREE BUILDDIR OUTPUT
#
# nginx's configure writes a Makefile into the tree it runs in, so it runs in
# TREE, a copy of NGINX_DEV_SRC: the installed source tree is never written.
# The module is added through a link in TREE, by a relative path: nginx turns
# a module's source paths into object paths with unanchored seds ("x.c" ->
# "x.o" anywhere), which a directory like /tmp/keyauth-test.cQ3xyz breaks.
# The environment passes KEYAUTH_CORE_LIBS and KEYAUTH_INCLUDE to ./config.
set -euo pipefail

step=$1
shift

case $step in
configure)
    src=$1 tree=$2 bld=$3 module=$4
    rm -rf "$tree" "$bld"
    cp -R "$src" "$tree"
    ln -s "$module" "$tree/keyauth-module"
    cd "$tree"
    # shellcheck disable=SC1091
    . ./conf_flags
    # Debian's hardening flags, as in `nginx -V`.
    ./configure "${NGX_CONF_FLAGS[@]}" \
        --with-cc-opt='-g -O2 -fstack-protector-strong -Wformat -Werror=format-security -fPIC -D_FORTIFY_SOURCE=2' \
        --with-ld-opt='-Wl,-z,relro -Wl,-z,now -fPIC' \
        --add-dynamic-module=keyauth-module \
        --builddir="$bld" >"$bld.configure.log" 2>&1 \
        || { cat "$bld.configure.log" >&2; exit 1; }
    ;;
make)
    tree=$1 bld=$2 out=$3
    # The core library is not among the Makefile's prerequisites: relink.
    rm -f "$bld/ngx_http_keyauth_module.so"
    # Its own make: a few objects, no jobserver to share.
    env -u MAKEFLAGS -u MFLAGS make -f "$bld/Makefile" -C "$tree" modules
    cp "$bld/ngx_http_keyauth_module.so" "$out"
    ;;
*)
    echo "usage: $0 configure|make ..." >&2
    exit 2
    ;;
esac
