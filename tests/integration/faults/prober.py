#!/usr/bin/env python3
"""A bystander client that keeps asking, while a test stops and kills
writers: one HTTP request (new connection, Bearer token) and one MQTT CONNECT
(username = token) after the other, until STOP_FILE exists.

    prober.py URL MQTT_PORT TOKEN_FILE STOP_FILE SLOW_SECONDS STALL_SECONDS

Prints one line per answer that was not an admission or took longer than
SLOW_SECONDS ("refused http 401 <unix time>", "slow mqtt 0.412 <unix time>",
"stalled" past STALL_SECONDS), then a last line "probes HTTP MQTT max
<seconds>"."""
import http.client
import os
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mosquitto"))
from mqtt_wire import connect_packet  # noqa: E402

url, mqtt_port, token_file, stop_file = sys.argv[1:5]
limit, stall = float(sys.argv[5]), float(sys.argv[6])
with open(token_file) as f:
    token = f.read().strip()
client_id = token.split(":", 1)[0] + ":probe"
target = urllib.parse.urlsplit(url)


def http_once():
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    try:
        conn.request("GET", target.path, headers={"Authorization": "Bearer " + token})
        response = conn.getresponse()
        response.read()
        return response.status == 200, str(response.status)
    finally:
        conn.close()


def mqtt_once():
    with socket.create_connection(("127.0.0.1", int(mqtt_port)), timeout=10) as s:
        s.sendall(connect_packet(client_id.encode(), token.encode()))
        reply = b""
        while len(reply) < 4:
            chunk = s.recv(4 - len(reply))
            if not chunk:
                break
            reply += chunk
        if len(reply) == 4 and reply[0] == 0x20 and reply[3] == 0:
            s.sendall(b"\xe0\x00")  # DISCONNECT
            return True, "0"
        return False, reply.hex() or "closed"


counts = {"http": 0, "mqtt": 0}
slowest = 0.0
while not os.path.exists(stop_file):
    for kind, once in (("http", http_once), ("mqtt", mqtt_once)):
        t0 = time.monotonic()
        try:
            admitted, what = once()
        except OSError as e:
            admitted, what = False, type(e).__name__
        took = time.monotonic() - t0
        counts[kind] += 1
        slowest = max(slowest, took)
        if not admitted:
            print("refused %s %s %.3f" % (kind, what, time.time()), flush=True)
        if took > limit:
            word = "stalled" if took > stall else "slow"
            print("%s %s %.3f %.3f" % (word, kind, took, time.time()), flush=True)
    time.sleep(0.01)
print("probes %d %d max %.3f" % (counts["http"], counts["mqtt"], slowest), flush=True)
