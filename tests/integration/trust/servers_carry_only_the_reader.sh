# The servers link the core's reader alone: no LMDB (ldd), and none of the
# writer's, the CA's or file staging's code (symbols), so nothing a worker or
# the broker runs can write the registry or issue a certificate.
source "$TESTLIB"
command -v nm >/dev/null || { echo "skip: nm is not installed"; exit 77; }
writer_code='LmdbRegistry|RegistryWriter|IndexWriter|CertificateAuthority|StagedFiles|WriterLock|upgrade_legacy_registry|mdb_[a-z_]+|X509_sign|EVP_PKEY_keygen'
checked=0
for binary in ${NGINX_MODULE:-} ${PLUGIN:-}; do
    [ -f "$binary" ] || fail "no such file: $binary"
    libraries=$(ldd "$binary")
    case "$libraries" in *liblmdb*) fail "$(basename "$binary") links liblmdb" ;; esac
    found=$(nm -C "$binary" | { grep -Eo "$writer_code" || true; } | sort -u | tr '\n' ' ')
    [ -z "$found" ] || fail "$(basename "$binary") carries writer code: $found"
    # Reading is there: the test would pass on an empty file otherwise.
    nm -C "$binary" | grep 'RegistryReader' >/dev/null || fail "$(basename "$binary") has no reader?"
    checked=$((checked + 1))
done
expect_eq "$checked" "${EXPECTED_BINARIES:-0}" "binaries checked"
pass "the plugin and the module carry only the reader"
