#!/usr/bin/env python3
"""What one range request costs etcd: its process's CPU (utime + stime from
/proc, so ETCD_PID must be a local etcd's) and the wall time per call, N calls
of each kind named (all by default). count_only is what keyauth-sync asks
after a watch session that brought nothing while etcd is ahead
(sync/replica.cpp, keys_change_pending; count_limit1 what it asked before,
for the same answer); count_only_at:REV is the count at
a past revision REV that follow_quiet_revisions asks before each digest check
(sync/snapshot.cpp, fleet_unchanged_between), beside changed_since:REV, the
keys put after REV (keys only) it asks first.

  fleet_key_count_cost.py ENDPOINT ETCD_PID N [count_limit1|count_only|count_only_at:REV|changed_since:REV|one_key ...]
"""
import base64, http.client, json, os, sys, time, urllib.parse
ep, pid, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = urllib.parse.urlparse(ep)
b64 = lambda s: base64.b64encode(s.encode()).decode()
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick
kinds = {
  # what keys_change_pending sent before EtcdClient::count: revision 0, limit 1
  "count_limit1": {"key": b64("/keyauth/"), "range_end": b64("/keyauth0"), "limit": "1"},
  # what it sends now (EtcdClient::count at etcd's revision)
  "count_only": {"key": b64("/keyauth/"), "range_end": b64("/keyauth0"), "count_only": True},
  "one_key": {"key": b64("/keyauth/fleet_id")},
}
conn = http.client.HTTPConnection(u.hostname, u.port)
for name in sys.argv[4:] or kinds:
    if name.startswith("count_only_at:"):
        body = json.dumps(dict(kinds["count_only"], revision=name.split(":", 1)[1]))
    elif name.startswith("changed_since:"):
        after = int(name.split(":", 1)[1])
        body = json.dumps({"key": b64("/keyauth/"), "range_end": b64("/keyauth0"),
                           "keys_only": True, "min_mod_revision": str(after + 1)})
    else:
        body = json.dumps(kinds[name])
    walls = []
    c0 = cpu()
    for _ in range(n):
        t = time.perf_counter()
        conn.request("POST", "/v3/kv/range", body, {"Content-Type": "application/json"})
        r = conn.getresponse(); a = json.loads(r.read())
        walls.append(time.perf_counter() - t)
    c1 = cpu()
    walls.sort()
    print("%-13s n=%d count=%s etcd CPU %.1f ms/call, wall median %.1f ms, max %.1f ms" % (
        name, n, a.get("count"), (c1 - c0) * 1000 / n, walls[len(walls)//2] * 1000, walls[-1] * 1000))
