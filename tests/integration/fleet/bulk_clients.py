#!/usr/bin/env python3
"""bulk_clients.py ENDPOINT TEMPLATE-ID PREFIX COUNT TOKEN-DIR

Registers COUNT clients PREFIX0000... in etcd in a few requests, so that a
fleet test has more clients than one snapshot page without running keytool
thousands of times. Each is a copy of TEMPLATE-ID's record (issued by
keytool, so the format is keytool's own) with its own token hash and
certificate fingerprint: the record starts with a format byte, the 32-byte
token hash (BLAKE2b-256 of the secret) and the 32-byte fingerprint. Each
token is saved as TOKEN-DIR/<id>_token, as keytool would.
"""
import base64
import hashlib
import json
import os
import sys
import urllib.request

BATCH = 100  # under etcd's default --max-txn-ops (128)


def call(endpoint, path, body):
    request = urllib.request.Request(endpoint + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def b64(data):
    return base64.b64encode(data).decode()


def main():
    endpoint, template_id, prefix, count, token_dir = sys.argv[1:6]
    key = b"/keyauth/clients/" + template_id.encode()
    found = call(endpoint, "/v3/kv/range", {"key": b64(key)})
    template = base64.b64decode(found["kvs"][0]["value"])
    puts = []
    for n in range(int(count)):
        client_id = "%s%04d" % (prefix, n)
        secret = os.urandom(32)
        record = (template[:1] + hashlib.blake2b(secret, digest_size=32).digest() +
                  os.urandom(32) + template[65:])
        with open(os.path.join(token_dir, client_id + "_token"), "w") as out:
            out.write("%s:b:%s\n" % (client_id, secret.hex()))
        puts.append({"request_put": {"key": b64(b"/keyauth/clients/" + client_id.encode()),
                                     "value": b64(record)}})
    for start in range(0, len(puts), BATCH):
        call(endpoint, "/v3/kv/txn", {"success": puts[start:start + BATCH]})


main()
