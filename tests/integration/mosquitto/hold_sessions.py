#!/usr/bin/env python3
"""Holds one MQTT 3.1.1 session per token file open against the broker and
reports which of them the broker closed.

    hold_sessions.py PORT READY_FILE GO_FILE GRACE_SECONDS TOKEN_FILE...

Connects every session (username = token, no password) and requires CONNACK
0 for each, then touches READY_FILE. Once GO_FILE exists it waits
GRACE_SECONDS and prints, one per line, the client ids whose connection the
broker had closed; exit 0. Any refused CONNECT is exit 2."""
import asyncio
import os
import sys

from mqtt_wire import connect_packet


async def hold(port, client_id, token, closed, connected):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(connect_packet(client_id.encode(), token.encode()))
    await writer.drain()
    connack = await reader.readexactly(4)
    if connack[0] != 0x20 or connack[3] != 0:
        print(f"refused {client_id}: {connack.hex()}", file=sys.stderr)
        sys.exit(2)
    connected.append(client_id)
    try:
        while await reader.read(1024):
            pass
    except ConnectionError:
        pass
    closed.add(client_id)


async def main():
    port, ready, go, grace = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    sessions = []
    for path in sys.argv[5:]:
        with open(path) as f:
            token = f.read().strip()
        sessions.append((token.split(":", 1)[0], token))
    closed, connected, tasks = set(), [], []
    limit = asyncio.Semaphore(64)  # the broker's listen backlog

    async def start(client_id, token):
        async with limit:
            tasks.append(asyncio.create_task(hold(port, client_id, token, closed, connected)))
            while client_id not in connected and not tasks[-1].done():
                await asyncio.sleep(0.001)

    await asyncio.gather(*(start(c, t) for c, t in sessions))
    if len(connected) != len(sessions) or closed:
        print(f"only {len(connected)} of {len(sessions)} connected", file=sys.stderr)
        sys.exit(2)
    open(ready, "w").close()
    while not os.path.exists(go):
        await asyncio.sleep(0.05)
    await asyncio.sleep(grace)
    for client_id in sorted(closed):
        print(client_id)
    os._exit(0)


asyncio.run(main())
