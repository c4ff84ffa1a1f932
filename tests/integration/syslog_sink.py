#!/usr/bin/env python3
"""A syslog of the tests' own (the machine's /dev/log is not theirs, and may
not exist): binds the Unix datagram socket SOCKET, as keyauth finds it through
$KEYAUTH_AUDIT_SOCKET, and appends each datagram to LINES as one line. A
datagram holding a newline would be two lines in a real log: it is written
with the newline escaped and marked NEWLINE-IN-DATAGRAM, for the test to fail.

usage: syslog_sink.py SOCKET LINES
"""
import os
import socket
import sys

path, lines = sys.argv[1], sys.argv[2]
sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sink.bind(path + ".new")
os.rename(path + ".new", path)  # appears only once bound
with open(lines, "ab", buffering=0) as out:
    while True:
        datagram = sink.recv(65536)
        if b"\n" in datagram:
            datagram = datagram.replace(b"\n", b"\\n") + b" NEWLINE-IN-DATAGRAM"
        out.write(datagram + b"\n")
