"""Minimal MQTT 3.1.1 packets for tests that need bytes mosquitto_pub won't send."""


def utf8_field(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def remaining_length(length: int) -> bytes:
    encoded = b""
    while True:
        byte, length = length % 128, length // 128
        encoded += bytes([byte | (0x80 if length else 0)])
        if not length:
            return encoded


def connect_packet(client_id: bytes, username: bytes = None, password: bytes = None,
                   keepalive: int = 600) -> bytes:
    flags = 0x02  # clean session
    payload = utf8_field(client_id)
    if username is not None:
        flags |= 0x80
        payload += utf8_field(username)
    if password is not None:
        flags |= 0x40
        payload += utf8_field(password)
    body = utf8_field(b"MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + payload
    return b"\x10" + remaining_length(len(body)) + body
