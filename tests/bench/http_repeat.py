#!/usr/bin/env python3
"""The same HTTP request COUNT times over one keep-alive connection.

    http_repeat.py PORT PATH COUNT [AUTHORIZATION] [--status N]

For instruction counts under callgrind: the server does exactly COUNT
requests' work, whatever the machine's load. Every answer must carry the
expected status (200 unless --status), or the run fails.
"""
import http.client
import sys


def main(argv):
    status = 200
    if "--status" in argv:
        at = argv.index("--status")
        status = int(argv[at + 1])
        del argv[at:at + 2]
    port, path, count = int(argv[1]), argv[2], int(argv[3])
    headers = {"Authorization": argv[4]} if len(argv) > 4 and argv[4] else {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for i in range(count):
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != status:
            sys.exit(f"http_repeat: request {i + 1} of {path}: {response.status}, not {status}")
        if response.will_close:
            connection.close()  # the next request reconnects
    connection.close()


if __name__ == "__main__":
    main(sys.argv)
