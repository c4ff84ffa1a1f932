#!/usr/bin/env python3
"""del_probe.py PORT TOKEN-DIR LOG START STARTS END ENDS LIMIT-MS -- KEYTOOL-COMMAND... -- ID...

Waits for START to appear in LOG more than STARTS times (a rebuild begun),
then deletes each ID with KEYTOOL-COMMAND del ID, and from each del's return
asks nginx on PORT, over one keep-alive connection, for every client deleted
so far, again and again, until END has appeared in LOG more than ENDS times
(the rebuild swapped in) and one more second has passed. STARTS and ENDS are
the counts before the caller set the rebuild off. Any 200 for a deleted client is
an admission after its del returned: prints the worst, and exits 1 if it came
later than LIMIT-MS after that del, 2 if the rebuild was over before a del.
"""
import http.client, subprocess, sys, time


def count(log, pattern):
    with open(log, errors="replace") as f:
        return f.read().count(pattern)


def main():
    port, tokens, log, start, starts_before, end, ends_before, limit = sys.argv[1:9]
    starts_before, ends_before, limit = int(starts_before), int(ends_before), float(limit)
    rest = sys.argv[9:]
    second = rest.index("--", 1)
    keytool, ids = rest[1:second], rest[second + 1:]
    deadline = time.monotonic() + 60
    while count(log, start) <= starts_before:
        if time.monotonic() > deadline:
            raise SystemExit("no '%s' in %s within 60 s" % (start, log))
        time.sleep(0.005)
    conn = http.client.HTTPConnection("127.0.0.1", int(port))

    def status(token):
        for attempt in (1, 2):
            try:
                conn.request("GET", "/db/query", headers={"Authorization": "Bearer " + token})
                r = conn.getresponse()
                r.read()
                return r.status
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                if attempt == 2:
                    raise

    deleted = []  # (id, token, monotonic time its del returned)
    worst = (0.0, None)
    admitted = 0
    during = 0
    def probe():
        nonlocal worst, admitted
        for cid, token, returned in deleted:
            if status(token) == 200:
                lag = (time.monotonic() - returned) * 1000
                admitted += 1
                if lag > worst[0]:
                    worst = (lag, cid)
    for cid in ids:
        token = open("%s/%s_token" % (tokens, cid)).read().strip()
        subprocess.run(keytool + ["del", cid], check=True, stdout=subprocess.DEVNULL)
        deleted.append((cid, token, time.monotonic()))
        if count(log, end) == ends_before:
            during += 1
        probe()
    swapped_at = None
    while swapped_at is None or time.monotonic() - swapped_at < 1.0:
        probe()
        if swapped_at is None and count(log, end) > ends_before:
            swapped_at = time.monotonic()
        if time.monotonic() > deadline + 60:
            raise SystemExit("no second '%s' in %s" % (end, log))
    print("%d deletes, %d returned during the rebuild; %d admissions after a del returned, "
          "the latest %.1f ms after (%s)" % (len(ids), during, admitted, worst[0], worst[1]))
    if during == 0:
        sys.exit(2)
    sys.exit(1 if worst[0] > limit else 0)


main()
