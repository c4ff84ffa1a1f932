#!/usr/bin/env python3
"""One raw MQTT 3.1.1 CONNECT; prints the CONNACK return code, or "closed".

    connect_once.py PORT CLIENT_ID_HEX USERNAME_HEX|- [PASSWORD_HEX]

Fields are hex so that tests can send any bytes: NUL, invalid UTF-8, 64 KiB."""
import socket
import sys

from mqtt_wire import connect_packet

port, client_id = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
username = None if sys.argv[3] == "-" else bytes.fromhex(sys.argv[3])
password = bytes.fromhex(sys.argv[4]) if len(sys.argv) > 4 else None
with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
    s.sendall(connect_packet(client_id, username, password))
    reply = b""
    try:
        while len(reply) < 4:
            chunk = s.recv(4 - len(reply))
            if not chunk:
                break
            reply += chunk
    except (ConnectionError, socket.timeout):
        pass
print(reply[3] if len(reply) == 4 and reply[0] == 0x20 else "closed")
