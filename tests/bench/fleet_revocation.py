#!/usr/bin/env python3
"""Fleet-wide revocation latency: for each id, runs `keytool --etcd ... del ID`
and measures from its return to the moment every host's nginx refuses the
id's token (401), polling each host over one keep-alive connection.

  fleet_revocation.py --ports P1,P2,P3 --tokens DIR -- KEYTOOL-COMMAND... -- ID...
"""
import http.client, subprocess, sys, time

def main():
    args = sys.argv[1:]
    ports = [int(p) for p in args[args.index("--ports") + 1].split(",")]
    tokens = args[args.index("--tokens") + 1]
    first = args.index("--"); second = args.index("--", first + 1)
    keytool, ids = args[first + 1:second], args[second + 1:]
    conns = [http.client.HTTPConnection("127.0.0.1", p) for p in ports]
    def status(conn, token):
        for attempt in (1, 2):  # nginx closes a keep-alive connection after keepalive_requests
            try:
                conn.request("GET", "/db/query", headers={"Authorization": "Bearer " + token})
                r = conn.getresponse(); r.read(); return r.status
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                if attempt == 2:
                    raise
    latencies, del_times = [], []
    for cid in ids:
        token = open("%s/%s_token" % (tokens, cid)).read().strip()
        for c in conns:
            if status(c, token) != 200:
                raise SystemExit("%s not accepted before del" % cid)
        t0 = time.monotonic()
        subprocess.run(keytool + ["del", cid], check=True, stdout=subprocess.DEVNULL)
        returned = time.monotonic()
        del_times.append(returned - t0)
        pending = list(conns)
        while pending:
            pending = [c for c in pending if status(c, token) != 401]
            if time.monotonic() - returned > 10:
                raise SystemExit("%s still accepted 10 s after del" % cid)
        latencies.append(time.monotonic() - returned)
    def pct(values, q):
        s = sorted(values); return s[min(len(s) - 1, int(q * len(s)))] * 1000
    print("deletes %d  revocation ms p50 %.1f p99 %.1f max %.1f  (keytool del itself p50 %.1f ms)"
          % (len(ids), pct(latencies, .5), pct(latencies, .99), max(latencies) * 1000,
             pct(del_times, .5)))

main()
