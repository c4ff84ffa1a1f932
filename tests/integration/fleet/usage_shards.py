"""A host's last-use shards put straight into etcd, as keyauth-sync writes them.

    python3 usage_shards.py ENDPOINT FLEET_ID HOST flood N
        alice and N ids flood-0000000... (none of them the registry's but
        alice), all used today, in shards of up to 256 KiB; and a fresh marker
    python3 usage_shards.py ENDPOINT FLEET_ID HOST crowd N
        N one-entry shards (alice, used today), 128 to an etcd transaction;
        and a fresh marker

The encoding is docs/FLEET.md's: a version byte (1), a count, the ids
front-coded with their day, LEB128 varints.
"""
import base64
import json
import sys
import time
import urllib.request

endpoint, fleet, host, mode, count = sys.argv[1:6]
count = int(count)
day = int(time.time()) // 86400
shard_bytes = 256 * 1024


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7f | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def post(path, body):
    urllib.request.urlopen(endpoint + path, json.dumps(body).encode()).read()


def put_all(pairs):
    """Each (key, value) put, up to 128 (etcd's default limit) and 512 KiB to
    a transaction (etcd takes requests up to 1.5 MiB, values travel base64)."""
    batch, size = [], 0
    for key, value in pairs + [(None, b"")]:
        if batch and (key is None or len(batch) == 128 or size + len(value) > 512 * 1024):
            post("/v3/kv/txn", {"success": [{"request_put": {"key": b64(k), "value": b64(v)}}
                                            for k, v in batch]})
            batch, size = [], 0
        if key is not None:
            batch.append((key, value))
            size += len(value)


def shards_of(ids):
    shards, shard, entries, previous = [], bytearray(), 0, ""
    for id in ids:
        shared = 0
        while shared < min(len(id), len(previous)) and id[shared] == previous[shared]:
            shared += 1
        entry = varint(shared) + varint(len(id) - shared) + id[shared:].encode() + varint(day)
        if entries and len(shard) + len(entry) > shard_bytes - 6:
            shards.append(bytes([1]) + varint(entries) + bytes(shard))
            shard, entries = bytearray(), 0
            entry = varint(0) + varint(len(id)) + id.encode() + varint(day)
        shard += entry
        entries += 1
        previous = id
    shards.append(bytes([1]) + varint(entries) + bytes(shard))
    return shards


if mode == "flood":
    shards = shards_of(sorted(["alice"] + ["flood-%07d" % i for i in range(count)]))
else:
    shards = shards_of(["alice"]) * count
put_all([("/keyauth-usage/%s/%s/%d" % (fleet, host, number), shard)
         for number, shard in enumerate(shards)])
put_all([("/keyauth-usage-hosts/%s/%s" % (fleet, host),
          b"v1 published_at=%d interval=3600" % int(time.time()))])
