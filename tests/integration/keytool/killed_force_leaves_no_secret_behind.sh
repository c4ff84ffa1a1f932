# gen --force killed between its links and renames leaves private copies of
# the old and new key and token beside them; the next run for that prefix
# removes those of writers that are gone (and only those).
source "$TESTLIB"
keytool init >/dev/null
keytool gen myapp01 --output ./myapp01 >/dev/null

# What a keytool killed mid-publish (pid 4000000, above any pid_max) leaves.
for f in myapp01_key.pem myapp01_token myapp01_cert.pem; do
    install -m 600 /dev/null ".$f.4000000.1a2b3c.tmp"
done
# A writer still at work (this shell) keeps its own, and foreign names stay.
install -m 600 /dev/null ".myapp01_key.pem.$$.abc.tmp"
install -m 600 /dev/null ".myapp01_key.pem.4000000.xyz.tmp"
install -m 600 /dev/null ".other_key.pem.4000000.1a2b3c.tmp"

keytool gen myapp01 --force --output ./myapp01 >/dev/null
left=$(ls -A | grep '\.tmp$' | sort | tr '\n' ' ')
kept=$(printf '%s\n' ".myapp01_key.pem.$$.abc.tmp" .myapp01_key.pem.4000000.xyz.tmp \
    .other_key.pem.4000000.1a2b3c.tmp | sort | tr '\n' ' ')
expect_eq "$left" "$kept" "temporaries after the next run"
pass "the next gen for a prefix removes what a killed gen --force left behind"

# The real thing: SIGKILL gen --force at random moments, then one clean run.
for i in $(seq 30); do
    "$KEYTOOL" gen myapp01 --force --output ./myapp01 >/dev/null 2>&1 &
    pid=$!
    sleep "0.00$((RANDOM % 9))"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
keytool gen myapp01 --force --output ./myapp01 >/dev/null 2>err ||
    fail "gen --force after the killed runs: $(cat err)"
left=$(ls -A | grep '\.tmp$' | grep -v "\.$$\.abc\.tmp$" | grep -v xyz | grep -v other_ || true)
expect_eq "$left" "" "temporaries after 30 killed runs and one clean one"
pass "no secret outlives a killed gen --force beyond the next run"
