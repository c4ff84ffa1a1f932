#!/usr/bin/env python3
"""Writes COUNT synthetic clients straight into etcd through its JSON gateway
(128 puts a transaction, etcd's default limit), in keyauth's record format, so
that large fleets can be measured without a certificate per client. With
--tokens DIR --token-count K, the first K clients' tokens go to DIR/<id>_token
(valid: the record holds the BLAKE2b-256 of the secret, as keytool makes them).

  fleet_records.py http://127.0.0.1:2379 100000 bulk [--tokens DIR --token-count K]

With --rate R (changes a second) --until FILE it is a write load instead: one
change a transaction (each its own etcd revision, as keytool's are), a put of
a new client then, one change later, its delete, from 8 connections, paced to
R a second until FILE exists; it prints the rate reached.
"""
import argparse, base64, hashlib, http.client, json, os, struct, threading, time, urllib.parse

def record(secret, now):
    token_hash = hashlib.blake2b(secret, digest_size=32).digest()
    fingerprint = os.urandom(32)
    serial = os.urandom(16)
    return (bytes([1]) + token_hash + fingerprint + bytes([len(serial)]) +
            serial.ljust(20, b"\0") + struct.pack("<qqq", now - 60, now + 3 * 365 * 86400, now))

def main():
    p = argparse.ArgumentParser()
    p.add_argument("endpoint"); p.add_argument("count", type=int); p.add_argument("prefix")
    p.add_argument("--tokens"); p.add_argument("--token-count", type=int, default=0)
    p.add_argument("--rate", type=float, default=0); p.add_argument("--until")
    a = p.parse_args()
    if a.rate > 0:
        return load(a)
    url = urllib.parse.urlparse(a.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port)
    now = int(time.time())
    b64 = lambda b: base64.b64encode(b).decode()
    started = time.time()
    for start in range(0, a.count, 128):
        puts = []
        for n in range(start, min(start + 128, a.count)):
            cid = "%s%07d" % (a.prefix, n)
            secret = os.urandom(32)
            puts.append({"request_put": {"key": b64(("/keyauth/clients/" + cid).encode()),
                                         "value": b64(record(secret, now))}})
            if a.tokens and n < a.token_count:
                with open(os.path.join(a.tokens, cid + "_token"), "w") as f:
                    f.write("%s:b:%s\n" % (cid, secret.hex()))
        conn.request("POST", "/v3/kv/txn", json.dumps({"success": puts}),
                     {"Content-Type": "application/json"})
        r = conn.getresponse(); body = r.read()
        if r.status != 200:
            raise SystemExit("etcd refused: %s" % body[:200])
    print("wrote %d clients in %.1f s" % (a.count, time.time() - started))

def load(a):
    url = urllib.parse.urlparse(a.endpoint)
    b64 = lambda b: base64.b64encode(b).decode()
    connections = 8
    done = [0] * connections
    started = time.time()

    def worker(k):
        conn = http.client.HTTPConnection(url.hostname, url.port)
        interval = connections / a.rate
        due = time.monotonic()
        n = 0
        while not os.path.exists(a.until):
            key = b64(("/keyauth/clients/%s%d-%07d" % (a.prefix, k, n // 2)).encode())
            if n % 2 == 0:
                op = {"request_put": {"key": key, "value": b64(record(os.urandom(32), int(time.time())))}}
            else:
                op = {"request_delete_range": {"key": key}}
            try:
                conn.request("POST", "/v3/kv/txn", json.dumps({"success": [op]}),
                             {"Content-Type": "application/json"})
                r = conn.getresponse(); body = r.read()
            except OSError:
                if os.path.exists(a.until):
                    return  # etcd stopped after the run
                raise
            if r.status != 200:
                raise SystemExit("etcd refused: %s" % body[:200])
            n += 1
            done[k] = n
            due += interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                due = time.monotonic()  # behind: as fast as etcd takes them

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - started
    print("write load: %d changes in %.1f s = %.0f/s (asked %g/s)"
          % (sum(done), elapsed, sum(done) / elapsed, a.rate))

main()
