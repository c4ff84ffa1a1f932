"""An etcd JSON gateway that claims more last-use keys than a fleet can publish.

fleet_last_use_too_many_keys_refused.sh points keytool --etcd at it: the
readers' caps are checked without writing a million keys into a real etcd.

    python3 fleet_last_use_too_many_keys_refused.py PORT_FILE shards|markers|none [RANGES_FILE]

Answers /v3/kv/range only: /keyauth/fleet_id holds 00ff; the range named by
the second argument (/keyauth-usage/00ff/ or /keyauth-usage-hosts/00ff/)
counts more keys than readers walk in one go (1 048 577 shards, 65 537
markers), the other none (none: neither). With RANGES_FILE, the key of
each range asked for is appended to it, a line each.
"""
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

CROWDED, COUNT = {"shards": ("/keyauth-usage/00ff/", "1048577"),
                  "markers": ("/keyauth-usage-hosts/00ff/", "65537"),
                  "none": (None, "0")}[sys.argv[2]]
RANGES = sys.argv[3] if len(sys.argv) > 3 else None


def encoded(text):
    return base64.b64encode(text.encode()).decode()


class Gateway(BaseHTTPRequestHandler):
    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = base64.b64decode(request.get("key", "")).decode()
        answer = {"header": {"cluster_id": "1", "revision": "7"}, "count": "0"}
        if self.path != "/v3/kv/range":
            self.send_error(404)
            return
        if RANGES:
            with open(RANGES, "a") as ranges:
                ranges.write(key + "\n")
        if key == "/keyauth/fleet_id":
            answer.update(count="1", kvs=[{"key": encoded(key), "value": encoded("00ff"),
                                           "create_revision": "2", "mod_revision": "2"}])
        elif key == CROWDED:
            answer.update(count=COUNT, more=True)  # no kvs: only the count is read first
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Gateway)
with open(sys.argv[1], "w") as port_file:
    port_file.write(str(server.server_address[1]))
server.serve_forever()
