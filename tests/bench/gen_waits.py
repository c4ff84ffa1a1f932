#!/usr/bin/env python3
"""keytool gen (and del) timed for two builds in turn, on registries copied
from one cache so both start equal (docs/BENCHMARKS.md, "`keytool gen` at a
million clients").

    gen_waits.py MODE N OUT BEFORE_KEYTOOL:REGISTRY AFTER_KEYTOOL:REGISTRY

MODE:
  wall     N gens each, alternating which build goes first; spawn to exit.
  del      dels the clients `wall` made into the same OUT name.
  phases   N gens each under strace -f -tt -T: the files' phase (first sync
           of a staged file to the last linkat returning) and every wait
           from that first sync to the exit, as wall time.
  calls    N gens each under strace -f -c -w: the sync calls' count and
           summed time.
  rusage   N gens each, the kernel's count for the gen's process (wait4):
           CPU (user + system), minor and major page faults, KB read from
           the disk; figures the machine's load does not move.
  cold     as rusage, with the registry's files (data.mdb, lookup.idx,
           commit.seq) dropped from the page cache before each gen
           (posix_fadvise DONTNEED): a registry larger than the memory left
           for it.
Prints p50 and p90 per build. Client ids are OUT's base name, the build's
name and the run's number.
"""
import os
import re
import statistics
import subprocess
import sys
import time

SYNCS = ("fsync", "fdatasync", "msync", "sync_file_range")


def p(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def line(name, what, values):
    return f"{name} {what}: p50 {statistics.median(values):.2f} p90 {p(values, 0.9):.2f} ms"


def stamp(text):
    h, m, s = text.split()[1].split(":")
    return (int(h) * 3600 + int(m) * 60 + float(s)) * 1000


def evict(registry):
    for name in ("data.mdb", "lookup.idx", "commit.seq"):
        fd = os.open(os.path.join(registry, name), os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages stay cached: written first
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def main():
    mode, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    builds = [("before",) + tuple(sys.argv[4].split(":")), ("after",) + tuple(sys.argv[5].split(":"))]
    tag = os.path.basename(out.rstrip("/"))
    found = {b[0]: {} for b in builds}
    for i in range(n):
        for name, keytool, registry in builds if i % 2 == 0 else builds[::-1]:
            client = f"{tag}-{name}-{i}"
            files = os.path.join(out, name)
            os.makedirs(files, exist_ok=True)
            gen = [keytool, "--registry", registry, "gen", client, "--output", os.path.join(files, client)]
            record = found[name]
            if mode in ("wall", "del"):
                command = gen if mode == "wall" else [keytool, "--registry", registry, "del", client]
                start = time.perf_counter()
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
                record.setdefault(mode, []).append((time.perf_counter() - start) * 1000)
            elif mode == "phases":
                trace = os.path.join(files, client + ".strace")
                subprocess.run(["strace", "-f", "-tt", "-T", "-o", trace, "-e",
                                "trace=execve,exit_group,linkat,pwrite64," + ",".join(SYNCS)] + gen,
                               check=True, stdout=subprocess.DEVNULL)
                first = linked = end = None
                for text in open(trace):
                    at = end = stamp(text)
                    if first is None and re.search(r"\b(%s)\(" % "|".join(SYNCS), text):
                        first = at
                    took = re.search(r"<([0-9.]+)>\s*$", text)
                    if "linkat(" in text:
                        linked = at + (float(took.group(1)) * 1000 if took else 0)
                record.setdefault("files' phase", []).append(linked - first)
                record.setdefault("first file sync to exit", []).append(end - first)
            elif mode in ("rusage", "cold"):
                if mode == "cold":
                    evict(registry)
                start = time.perf_counter()
                child = subprocess.Popen(gen, stdout=subprocess.DEVNULL)
                _, status, use = os.wait4(child.pid, 0)
                if status != 0:
                    sys.exit(f"{gen}: exit status {status}")
                record.setdefault("wall", []).append((time.perf_counter() - start) * 1000)
                record.setdefault("cpu", []).append((use.ru_utime + use.ru_stime) * 1000)
                record.setdefault("count minor faults", []).append(use.ru_minflt)
                record.setdefault("count major faults", []).append(use.ru_majflt)
                record.setdefault("count KB read", []).append(use.ru_inblock // 2)
            elif mode == "calls":
                summary = os.path.join(files, client + ".calls")
                subprocess.run(["strace", "-f", "-c", "-w", "-o", summary] + gen, check=True,
                               stdout=subprocess.DEVNULL)
                total = 0.0
                for text in open(summary):
                    f = text.split()
                    if len(f) >= 5 and f[-1] in SYNCS:
                        total += float(f[1]) * 1000
                        record.setdefault("count " + f[-1], []).append(int(f[3]))
                record.setdefault("summed sync calls", []).append(total)
            else:
                sys.exit("mode: wall, del, phases, calls, rusage or cold")
    for name in found:
        for what, values in found[name].items():
            if what.startswith("count "):
                print(f"{name} {what}: {statistics.median(values):g} a gen")
            else:
                print(line(name, what, values))


if __name__ == "__main__":
    main()
