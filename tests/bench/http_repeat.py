#!/usr/bin/env python3
"""The same HTTP request COUNT times over one keep-alive connection.

    http_repeat.py PORT PATH COUNT [AUTHORIZATION] [--status N] [--headers FILE [--skip K]]

For instruction counts under callgrind: the server does exactly COUNT
requests' work, whatever the machine's load. --headers: one Authorization
value per line, a different one per request, starting at line K + 1.
Every answer must carry the expected status (200 unless --status), or the
run fails.
"""
import http.client
import sys


def option(argv, name, default):
    if name not in argv:
        return default
    at = argv.index(name)
    value = argv[at + 1]
    del argv[at:at + 2]
    return value


def main(argv):
    status = int(option(argv, "--status", 200))
    headers_file = option(argv, "--headers", None)
    skip = int(option(argv, "--skip", 0))
    port, path, count = int(argv[1]), argv[2], int(argv[3])
    if headers_file:
        with open(headers_file) as f:
            values = [line.rstrip("\n") for line in f if line.strip()][skip:]
        if len(values) < count:
            sys.exit(f"http_repeat: {headers_file} has fewer than {count} values after {skip}")
    else:
        values = [argv[4] if len(argv) > 4 else ""]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for i in range(count):
        value = values[i % len(values)]
        headers = {"Authorization": value} if value else {}
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
