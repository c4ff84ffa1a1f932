"""Long-lived HTTP for the revocation tests: upstreams and clients.

Every client prints one line per thing it sees, "<what> <unix time>", and a
last line when the stream ends ("closed", "error <status>", "end"), so a
test reads from its output when a stream stopped. Everything stops by itself
after LIFETIME seconds (30, or $STREAMS_LIFETIME).

  streams.py ws-echo PORT
  streams.py ws-client URL TOKEN
  streams.py grpc-server PORT
  streams.py grpc-client HOST:PORT CA_FILE CERT_FILE KEY_FILE
  streams.py grpc-pair HOST:PORT TOKEN_A TOKEN_B [METHOD_B]  (two calls on
      one h2c connection: "tick a", "error b ..." lines; METHOD_B
      /keyauth.test.Ticker/Quiet sends one tick, then nothing)
  streams.py http-server PORT      (/events: SSE, /poll: answers late)
"""
import os
import sys
import threading
import time

LIFETIME = float(os.environ.get("STREAMS_LIFETIME", "30"))  # a longer test sets more
TICK = 0.1


_say_lock = threading.Lock()


def say(*words):
    # One whole line at a time: the gRPC client's threads print side by side.
    line = " ".join(str(w) for w in words) + " %.3f\n" % time.time()
    with _say_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def ws_echo(port):
    import asyncio
    import websockets

    async def echo(ws, _path=None):
        async for message in ws:
            await ws.send(message)

    async def main():
        async with websockets.serve(echo, "127.0.0.1", int(port)):
            await asyncio.sleep(LIFETIME)

    asyncio.run(main())


def ws_client(url, token):
    import asyncio
    import websockets

    async def main():
        headers = {"Authorization": "Bearer " + token}
        async with websockets.connect(url, extra_headers=headers) as ws:
            deadline = time.time() + LIFETIME
            n = 0
            while time.time() < deadline:
                n += 1
                await ws.send(str(n))
                if await ws.recv() != str(n):
                    say("wrong-echo")
                    return
                say("echo")
                await asyncio.sleep(TICK)
            say("timeout")

    try:
        asyncio.run(main())
    except websockets.ConnectionClosed:
        say("closed")
    except (OSError, websockets.InvalidStatusCode) as e:
        say("error", type(e).__name__)


METHOD = "/keyauth.test.Ticker/Tick"


def grpc_server(port):
    from concurrent import futures
    import grpc

    def tick(request, context):
        deadline = time.time() + LIFETIME
        while context.is_active() and time.time() < deadline:
            yield b"tick"
            time.sleep(TICK)

    def quiet(request, context):
        yield b"tick"
        deadline = time.time() + LIFETIME
        while context.is_active() and time.time() < deadline:
            time.sleep(TICK)

    handler = grpc.method_handlers_generic_handler(
        "keyauth.test.Ticker", {"Tick": grpc.unary_stream_rpc_method_handler(tick),
                                "Quiet": grpc.unary_stream_rpc_method_handler(quiet)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), handlers=[handler])
    server.add_insecure_port("127.0.0.1:" + port)
    server.start()
    server.wait_for_termination(LIFETIME + 5)


def grpc_client(target, ca, cert, key):
    import grpc

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    credentials = grpc.ssl_channel_credentials(read(ca), read(key), read(cert))
    with grpc.secure_channel(target, credentials) as channel:
        call = channel.unary_stream(METHOD)(b"", timeout=LIFETIME + 5)
        try:
            for message in call:
                say(message.decode())
            say("end")
        except grpc.RpcError as e:
            say("error", e.code().name)


def grpc_pair(target, token_a, token_b, method_b=METHOD):
    import threading
    import grpc

    def run(channel, name, token, method):
        metadata = (("authorization", "Bearer " + token),)
        call = channel.unary_stream(method)(b"", metadata=metadata, timeout=LIFETIME + 5)
        try:
            for message in call:
                say(message.decode(), name)
            say("end", name)
        except grpc.RpcError as e:
            say("error", name, e.code().name)

    with grpc.insecure_channel(target) as channel:
        threads = [threading.Thread(target=run, args=(channel, n, t, m))
                   for n, t, m in (("a", token_a, METHOD), ("b", token_b, method_b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def http_server(port):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.startswith("/poll"):
                time.sleep(LIFETIME)
                body = b"late\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            deadline = time.time() + LIFETIME
            n = 0
            try:
                while time.time() < deadline:
                    n += 1
                    self.wfile.write(b"data: %d\n\n" % n)
                    self.wfile.flush()
                    time.sleep(TICK)
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    server.timeout = 1
    deadline = time.time() + LIFETIME + 5
    while time.time() < deadline:
        server.handle_request()


ROLES = {
    "ws-echo": ws_echo,
    "ws-client": ws_client,
    "grpc-server": grpc_server,
    "grpc-client": grpc_client,
    "grpc-pair": grpc_pair,
    "http-server": http_server,
}

if __name__ == "__main__":
    ROLES[sys.argv[1]](*sys.argv[2:])
