# gen never overwrites or follows a link without --force, and registers
# nothing when it cannot write its files.
source "$TESTLIB"

keytool init >/dev/null
echo "precious" >myapp01_key.pem
if keytool gen myapp01 2>err; then fail "overwrote an existing key file"; fi
expect_eq "$(cat err)" "keytool: ./myapp01_key.pem already exists" "existing file error"
expect_eq "$(cat myapp01_key.pem)" "precious" "existing file untouched"
[ ! -e myapp01_cert.pem ] && [ ! -e myapp01_token ] || fail "partial output left"
expect_eq "$(keytool list --json)" "[]" "nothing registered"
rm myapp01_key.pem

echo "target" >target
ln -s target link_token
if keytool gen link 2>err; then fail "wrote through a symlink"; fi
expect_contains "$(cat err)" "link_token already exists" "symlink error"
expect_eq "$(cat target)" "target" "symlink target untouched"
[ -L link_token ] || fail "symlink replaced without --force"

# With --force the link itself is replaced, its target never written.
keytool gen link --force >/dev/null 2>&1 || fail "--force over a symlink"
[ ! -L link_token ] || fail "--force left the symlink"
expect_eq "$(cat target)" "target" "symlink target untouched by --force"
expect_mode link_token 600

# --output naming a directory puts DIR/<id>_* there.
mkdir out
keytool gen indir --output ./out >/dev/null 2>&1 || fail "gen into a directory"
[ -f out/indir_token ] && [ -f out/indir_cert.pem ] || fail "files inside --output DIR"
pass "existing files and links are never overwritten"
