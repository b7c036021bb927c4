"""Parsers of what the bench and the audit collect: pure functions, tested on real outputs."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from pathlib import Path

# --- memory -------------------------------------------------------------------------------------


def smaps_rollup(text: str) -> dict[str, int]:
    """Rss, Pss (and the rest) of /proc/<pid>/smaps_rollup, in kB."""
    out = {}
    for line in text.splitlines():
        found = re.match(r"^(\w+):\s+(\d+) kB", line)
        if found:
            out[found[1]] = int(found[2])
    return out


def unit_of(cgroup: str) -> str:
    """The systemd unit (or scope/slice) a process belongs to, from /proc/<pid>/cgroup (v1 or v2)."""
    paths = {}
    for line in cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            paths[parts[1]] = parts[2]
    path = paths.get("name=systemd") or paths.get("") or paths.get("memory") or "/"
    units = [p for p in path.split("/") if p.endswith((".service", ".scope", ".socket"))]
    if units:
        return units[-1]
    last = path.rstrip("/").split("/")[-1]
    # The container's own cgroup: processes started by `docker exec`, outside systemd.
    return "docker exec (outside systemd)" if re.fullmatch(r"[0-9a-f]{64}", last) else (last or "-")


def memory_by_unit(dump: list[dict]) -> dict[str, dict]:
    """Sum RSS and PSS (kB) per unit over the processes of a memory.py dump (kernel threads have no smaps)."""
    units: dict[str, dict] = {}
    for proc in dump:
        sm = smaps_rollup(proc.get("smaps_rollup", ""))
        if not sm:
            continue
        unit = unit_of(proc.get("cgroup", ""))
        entry = units.setdefault(unit, {"rss_kb": 0, "pss_kb": 0, "processes": 0, "commands": []})
        entry["rss_kb"] += sm.get("Rss", 0)
        entry["pss_kb"] += sm.get("Pss", 0)
        entry["processes"] += 1
        if proc.get("comm") not in entry["commands"]:
            entry["commands"].append(proc.get("comm"))
    return units


# --- lynis --------------------------------------------------------------------------------------


def lynis_report(text: str) -> dict:
    """Lynis' report file (/var/log/lynis-report.dat): hardening index, warnings, suggestions."""
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" not in line or line.startswith("#"):
            continue
        key, value = line.split("=", 1)
        values.setdefault(key.removesuffix("[]"), []).append(value)
    index = values.get("hardening_index", ["0"])[0]
    return {
        "hardening_index": int(index) if index.isdigit() else 0,
        "tests_performed": int((values.get("lynis_tests_done") or ["0"])[0] or 0),
        "version": (values.get("lynis_version") or ["?"])[0],
        "warnings": [w.split("|")[0] + ": " + w.split("|")[1] for w in values.get("warning", []) if "|" in w],
        "suggestions": [s.split("|")[0] for s in values.get("suggestion", []) if "|" in s],
    }


# --- testssl.sh ---------------------------------------------------------------------------------

SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN", "INFO", "OK", "DEBUG"]


def testssl_findings(data: str | list) -> dict:
    """testssl.sh --jsonfile output: counts per severity and the findings at LOW or worse."""
    items = json.loads(data) if isinstance(data, str) else data
    if isinstance(items, dict):  # --jsonfile-pretty
        items = [
            f for res in items.get("scanResult", []) for group in res.values() if isinstance(group, list) for f in group
        ]
    counts = dict.fromkeys(SEVERITIES, 0)
    notable = []
    for item in items:
        severity = str(item.get("severity", "INFO")).upper()
        counts[severity] = counts.get(severity, 0) + 1
        if severity in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN"):
            notable.append({"severity": severity, "id": item.get("id", ""), "finding": item.get("finding", "")})
    return {"counts": counts, "notable": notable}


# --- systemd ------------------------------------------------------------------------------------


def exposure(text: str) -> float | None:
    """The overall exposure level `systemd-analyze security <unit>` prints."""
    found = re.search(r"Overall exposure level for \S+:\s*([0-9.]+)", text)
    return float(found[1]) if found else None


def exposure_table(text: str) -> dict[str, float]:
    """`systemd-analyze security` without a unit: UNIT EXPOSURE PREDICATE HAPPY per line."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(".service"):
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return out


# --- sockets ------------------------------------------------------------------------------------


def listening(text: str) -> list[dict]:
    """`ss -Htulnp` lines: protocol, address, port, process."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        proto, local = parts[0], parts[4]
        addr, _, port = local.rpartition(":")
        addr = addr.strip("[]").split("%")[0]
        process = ""
        found = re.search(r'users:\(\("([^"]+)"', line)
        if found:
            process = found[1]
        out.append({"proto": proto, "address": addr, "port": int(port) if port.isdigit() else 0, "process": process})
    return out


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address in ("localhost",)


def external(sockets: list[dict]) -> list[dict]:
    """Sockets bound to an address other hosts can reach (wildcard or non-loopback)."""
    return [s for s in sockets if not is_loopback(s["address"])]


# --- secrets ------------------------------------------------------------------------------------


def secret_needles(directory: Path) -> dict[str, list[str]]:
    """What to look for, per secrets file: the value (a password lookup file: value [salt=...]), or
    for a key file (PEM private key, borg key) its body lines. Public certificates are not secrets."""
    out: dict[str, list[str]] = {}
    if not directory.is_dir():
        return out
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        if not text or "BEGIN CERTIFICATE" in text or (path.suffix in (".crt", ".pem") and "PRIVATE" not in text):
            continue
        lines = text.splitlines()
        if len(lines) > 1:  # a key file (PEM, borg key): its body lines, not its headers
            needles = [line for line in lines[1:] if len(line) >= 40 and not line.startswith("-----")]
        else:
            needles = [text.split(" salt=")[0].split()[0]]
        needles = [n for n in needles if len(n) >= 8]
        if needles:
            out[str(path.relative_to(directory))] = needles
    return out


def secret_hits(needles: dict[str, list[str]], sources: dict[str, str]) -> list[dict]:
    """Every (secret, source) pair where a secret appears in a source's text."""
    hits = []
    for secret, values in needles.items():
        for source, text in sources.items():
            count = sum(text.count(v) for v in values)
            if count:
                hits.append({"secret": secret, "source": source, "count": count})
    return hits


# --- load and latency ---------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0-100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[rank - 1])


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def loadtest(output: str) -> dict:
    """etherpad-loadtest's output: its last screen (authors, lurkers, commits) and whether it passed."""
    text = ANSI.sub("", output)
    screens = text.split("Load Test Metrics")
    last = screens[-1] if screens else text

    def num(label: str) -> int:
        found = re.findall(rf"{re.escape(label)}\s*(\d+)", last)
        return int(found[-1]) if found else 0

    return {
        "authors": num("Authors Connected:"),
        "lurkers": num("Lurkers Connected:"),
        "clients": num("Total Clients Connected:"),
        "sent": num("Sent Append messages:"),
        "accepted": num("Commits accepted by server:"),
        "seconds": num("Seconds test has been running for:"),
        "unacknowledged": num("Number of commits not yet replied as ACCEPT_COMMIT from server"),
        "passed": "Load Tests PASS" in text,
        "errors": num("Errors:"),
    }


def page_weight(data: dict) -> dict:
    """Totals of a pageweight.py result: first and repeat visit bytes, compressed share."""
    resources = data.get("resources", [])
    first = sum(r["body"] + r["head"] for r in resources)
    repeat = sum(r.get("repeat", r["body"] + r["head"]) for r in resources)
    compressed = [r for r in resources if {k.lower(): v for k, v in r["headers"].items()}.get("content-encoding")]
    return {
        "requests": len(resources),
        "first_bytes": first,
        "repeat_bytes": repeat,
        "compressed": len(compressed),
        "failed": [r["url"] for r in resources if r["status"] >= 400],
    }


def unattended_upgrades(log: str) -> list[str]:
    """Packages unattended-upgrade installed, from its log ("Packages that will be upgraded: a b c")."""
    out: list[str] = []
    for match in re.finditer(r"Packages that will be upgraded: (.*)$", log, re.MULTILINE):
        out += [name for name in match.group(1).split() if name not in out]
    return out


# --- bare upstream Etherpad ---------------------------------------------------------------------


def upstream_settings(template: str, port: int, postgres: dict | None = None) -> str:
    """Upstream's settings.json.template with only its port changed, and with `postgres` (host, port, database,
    user, password) its database too: dbType "dirty" becomes "postgres" and the dirty file's settings become the
    connection's. Every line it changes must be found exactly once, or the template is not the one expected."""
    replacements = {'  "port": 9001,': f'  "port": {port},'}
    if postgres is not None:
        replacements['  "dbType": "dirty",'] = '  "dbType": "postgres",'
        replacements['    "filename": "var/dirty.db"'] = "    " + json.dumps(postgres)[1:-1]
    lines = template.splitlines()
    for old, new in replacements.items():
        found = [i for i, line in enumerate(lines) if line == old]
        if len(found) != 1:
            raise ValueError(f"settings.json.template: {old.strip()!r} found {len(found)} times, expected once")
        lines[found[0]] = new
    return "\n".join(lines) + "\n"
