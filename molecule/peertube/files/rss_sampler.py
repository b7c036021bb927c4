#!/usr/bin/python3
"""Resident memory of a systemd unit's processes (the main one and its children, e.g. ffmpeg), read from /proc.

usage: chaton-test-rss <unit> --once            print {"kb": total, "procs": [[name, kb], ...]} once
       chaton-test-rss <unit> <file> [interval] sample until SIGTERM, rewriting <file> with the peak after each
                                                sample: {"peak_kb", "peak_procs", "samples", "ffmpeg_max"}
A process belongs to the unit when one of its cgroups (/proc/<pid>/cgroup, v1 or v2) ends with /<unit>.
"""

import json
import os
import signal
import sys
import time


def sample(unit):
    procs = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                if not any(line.endswith(f"/{unit}") for line in f.read().splitlines()):
                    continue
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        except OSError:
            continue
        procs.append((fields["Name"].strip(), int(fields.get("VmRSS", "0 kB").split()[0])))
    return procs


def main():
    unit = sys.argv[1]
    if sys.argv[2] == "--once":
        procs = sample(unit)
        print(json.dumps({"kb": sum(kb for _, kb in procs), "procs": procs}))
        return
    out, interval = sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 0.25
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    state = {"peak_kb": 0, "peak_procs": [], "samples": 0, "ffmpeg_max": 0}
    while True:
        procs = sample(unit)
        total = sum(kb for _, kb in procs)
        state["samples"] += 1
        state["ffmpeg_max"] = max(state["ffmpeg_max"], sum(1 for name, _ in procs if name == "ffmpeg"))
        if total > state["peak_kb"]:
            state["peak_kb"], state["peak_procs"] = total, procs
        with open(out + ".new", "w") as f:
            json.dump(state, f)
        os.replace(out + ".new", out)
        time.sleep(interval)


if __name__ == "__main__":
    main()
