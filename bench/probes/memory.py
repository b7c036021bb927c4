"""Dump each process's cgroup and smaps_rollup as JSON (run inside the bench host; chaton parses it)."""

import json
import os

out = []
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
        with open(f"/proc/{pid}/cgroup") as f:
            cgroup = f.read()
        with open(f"/proc/{pid}/smaps_rollup") as f:
            smaps = f.read()
    except OSError:
        continue
    out.append({"pid": int(pid), "comm": comm, "cgroup": cgroup, "smaps_rollup": smaps})
print(json.dumps(out))
