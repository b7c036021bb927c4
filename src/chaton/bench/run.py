"""`chaton bench` and `chaton bench audit`: the steps, their state, their reports.

Every figure lands in .cache/bench/state.json as soon as it is measured, so a report can be
rebuilt (`--report-only`) and a long step resumed on the same host (`--reuse`).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shlex
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from chaton import project_root
from chaton.bench import checks, parse
from chaton.bench import host as h
from chaton.bench.report import Section, mb, show, write
from chaton.testing import pebble_root, tcp_reachable

PROBES = "/usr/local/lib/chaton-bench"
NODE_DIR = "/opt/chaton-bench/node"
# Preloaded into etherpad-loadtest and the latency probe: inserts carry their author, as Etherpad 3 requires
# (bench/probes/attributed-client.js).
CLIENT = f"{PROBES}/attributed-client.js"
LOADTEST = "etherpad-load-test@1.0.10"
UPSTREAM_PORT = 9011
# The bare upstream Etherpad on PostgreSQL: its port and its database (and role) on the host's server.
UPSTREAM_PG_PORT = 9012
UPSTREAM_PG_DB = "chaton_bench_upstream"
UPSTREAM_DIR = "/var/lib/chaton-bench-upstream"
# Targets the issue sets, and the ones this bench sets where the issue says "report ratios".
CAP_BYTES = 2 * 1024**3
# Issue #21: a no-op re-converge at most a fifth of the first converge.
RECONVERGE_RATIO_MAX = 0.2
# Issue #21: `chaton deploy --only <service>` on an unchanged host, at most this share of the first converge.
ONLY_RATIO_MAX = 0.05
# Issue #21: the whole host, PeerTube included, idles under 800 MB PSS in its 2 GB container.
IDLE_ALL_MAX_MB = 800
# Issue #21: chaton's Etherpad against upstream's on PostgreSQL, every latency and authors per pad.
FAIR_RATIO_MAX = 1.2
EXPOSURE_MAX = 2.0
LYNIS_MIN = 80
ALLOWED_PORTS = {22, 80, 443}
AUDIT = "audit.json"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def results_file() -> Path:
    return project_root() / "bench" / "RESULTS.md"


# --- host ---------------------------------------------------------------------------------------


def step_converge(state: dict, release: str, log) -> None:
    """A fresh 2 GB container, the first converge, then the no-op re-converge of the same host."""
    skipped: list[str] = []

    def note(line: str) -> None:
        skipped.append(line)
        log(line)

    services = h.available_services(note)
    state.update(release=release, services=services, skipped=skipped, names=h.names(services), revision=h.revision())
    h.start(h.HOST, release, h.names(services), log, quirks=False)
    inventory = h.write_inventory(services)
    h.prepare(inventory, h.names(services), log)
    first = h.converge("first", inventory, log)
    state["converge"] = {"first": asdict(first)}
    h.save_state(state)
    if first.rc != 0:
        raise RuntimeError("first converge failed: " + "; ".join(first.failures[:3]))
    second = h.converge("second", inventory, log)
    state["converge"]["second"] = asdict(second)
    state["converged_at"] = now()
    h.save_state(state)


def step_only(state: dict, log) -> None:
    """`chaton deploy --only <service>` on the unchanged host, for each service: what the command runs
    (playbooks/service.yml with chaton_only), timed as the converges are."""
    inventory = h.inventory_dir() / "hosts.yml"
    runs = {}
    for service in state["services"]:
        run = h.converge(
            f"only-{service}", inventory, log, playbook="playbooks/service.yml", extravars={"chaton_only": service}
        )
        runs[service] = asdict(run)
        state["only"] = runs
        h.save_state(state)


def prepare_probes(state: dict, name: str = h.HOST) -> None:
    """The root of the host's certificates (pebble's, saved as the Molecule verifiers save it) and the probe
    scripts, inside the container."""
    root = pebble_root(testinfra_host(name))
    h.sh(name, f"install -D -m 0644 {root} {checks.CA}")
    for probe in (project_root() / "bench" / "probes").iterdir():
        h.put(name, probe, f"{PROBES}/{probe.name}")


def testinfra_host(name: str = h.HOST):
    import testinfra

    return testinfra.get_host(f"docker://{name}")


def step_checks(
    state: dict, key: str, log, name: str = h.HOST, store: dict | None = None, services: list[str] | None = None
) -> bool:
    """The functional checks of the host's services; their results in ``store`` (the state by default)."""
    store = state if store is None else store
    started = time.time()
    services = store["services"] if services is None else services
    results = checks.run_all(testinfra_host(name), h.DOMAIN, services, h.secrets_dir(name))
    store[key] = [{"check": n, "ok": ok, "detail": d, "seconds": round(sec, 1)} for n, ok, d, sec in results]
    store[key + "_started"] = started
    h.save_state(state)
    for n, ok, d, sec in results:
        log(f"{'PASS' if ok else 'FAIL'} {n} ({sec:.0f} s)" + (f": {d[:300]}" if d else ""))
    return all(ok for _, ok, _, _ in results)


def step_footprint(state: dict, log, settle: int = 30, name: str = h.HOST, store: dict | None = None) -> None:
    store = state if store is None else store
    log(f"idle footprint of {name}: waiting {settle} s for the host to settle")
    time.sleep(settle)
    dump = json.loads(h.sh(name, f"python3 {PROBES}/memory.py"))
    store["footprint"] = {
        "units": parse.memory_by_unit(dump),
        "cgroup": h.cgroup_memory(name),
        "measured_at": now(),
    }
    h.save_state(state)


def step_light(state: dict, release: str, log) -> None:
    """The light profile: the three light services (no PeerTube) in a 1 GB container, first converge, functional
    checks and idle footprint; the container is removed afterwards (it would weigh on the next run)."""
    services = [s for s in state.get("services", []) if s in h.LIGHT_SERVICES]
    light: dict = {"services": services, "memory": h.LIGHT_MEMORY, "started": now(), "revision": h.revision()}
    state["light"] = light
    names = h.names(services)
    try:
        h.start(h.LIGHT, release, names, log, quirks=False, memory=h.LIGHT_MEMORY)
        inventory = h.write_inventory(services, h.LIGHT)
        h.prepare(inventory, names, log)
        first = h.converge("light-first", inventory, log)
        light["converge"] = asdict(first)
        h.save_state(state)
        if first.rc != 0:
            light["error"] = "first converge failed: " + "; ".join(first.failures[:3])
            log(f"[red]light profile: {light['error']}[/red]")
            return
        prepare_probes(state, h.LIGHT)
        log(f"functional checks of the light profile ({h.LIGHT_MEMORY})")
        step_checks(state, "checks_idle", log, h.LIGHT, light)
        step_footprint(state, log, name=h.LIGHT, store=light)
        light["finished"] = now()
        h.save_state(state)
    finally:
        h.remove(h.LIGHT)


# --- Etherpad under load ------------------------------------------------------------------------


def _node_env() -> str:
    return f"NODE_PATH={NODE_DIR}/node_modules NODE_EXTRA_CA_CERTS={checks.CA}"


def _node() -> str:
    """The node binary chaton runs Etherpad with."""
    out = h.sh(h.HOST, "systemctl show -p ExecStart --value etherpad")
    found = [w.split("=", 1)[1] for w in out.split() if w.startswith("path=")]
    return found[0] if found else "node"


def install_loadtest(log) -> None:
    node = _node()
    npm = f"{Path(node).parent}/npm"
    npm = npm if h.sh(h.HOST, f"test -x {npm} && echo yes", check=False).strip() else "npm"
    log(f"installing {LOADTEST} from npm into the host ({NODE_DIR})")
    h.sh(
        h.HOST,
        f"mkdir -p {NODE_DIR} && PATH={Path(node).parent}:$PATH {npm} install --prefix {NODE_DIR} --no-audit "
        f"--no-fund --no-update-notifier --cafile /etc/ssl/certs/ca-certificates.crt {LOADTEST}",
        timeout=900,
    )


@dataclass(frozen=True)
class Upstream:
    """A bare upstream Etherpad beside chaton's: the same release directory, upstream's settings.json.template."""

    kind: str  # the key of its figures in state.json
    label: str
    port: int
    database: str | None = None  # PostgreSQL database and role of its own, on the host's server

    @property
    def unit(self) -> str:
        return f"chaton-bench-{self.kind}"

    @property
    def directory(self) -> str:
        return f"{UPSTREAM_DIR}/{self.kind}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


UPSTREAMS = (
    # Upstream's own defaults: the `dirty` file database (which the template says is for testing only).
    Upstream("upstream", "upstream (bare, default settings: dirty)", UPSTREAM_PORT),
    # The same, on PostgreSQL as chaton's: dbType and dbSettings changed, nothing else (issue #21).
    Upstream("upstream-pg", "upstream on PostgreSQL (bare, its settings otherwise)", UPSTREAM_PG_PORT, UPSTREAM_PG_DB),
)


def start_upstream(up: Upstream, log) -> None:
    """The same Etherpad release, bare: upstream's settings.json.template, its port changed, and for the PostgreSQL
    one its database (a database and role of its own on the host's PostgreSQL, reached as chaton's Etherpad
    reaches its own: TCP to 127.0.0.1 with a password)."""
    node = _node()
    # The release chaton runs: the unit's working directory is <code>/current/src, current a link to the release.
    workdir = h.sh(h.HOST, "systemctl show -p WorkingDirectory --value etherpad").strip()
    release = str(Path(h.sh(h.HOST, f"readlink -f {workdir}").strip()).parent)
    postgres = None
    if up.database:
        password = secrets.token_hex(20)
        postgres = {"host": "127.0.0.1", "port": 5432, "database": up.database, "user": up.database}
        postgres["password"] = password
        # As chaton's postgresql role creates its databases (owner, UTF-8, C.UTF-8, template0).
        h.sh(
            h.HOST,
            "cd / && runuser -u postgres -- psql -Xq -v ON_ERROR_STOP=1",
            stdin=f"""DROP DATABASE IF EXISTS {up.database};
DROP ROLE IF EXISTS {up.database};
CREATE ROLE {up.database} LOGIN PASSWORD '{password}';
CREATE DATABASE {up.database} OWNER {up.database} ENCODING 'UTF8' TEMPLATE template0
  LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8';
""",
        )
    template = h.sh(h.HOST, f"cat {release}/settings.json.template")
    settings = parse.upstream_settings(template, up.port, postgres)
    log(f"starting {up.label} from {release} with settings.json.template on :{up.port}")
    h.sh(
        h.HOST,
        f"""set -e
        systemctl stop {up.unit} 2>/dev/null || true
        # A unit left failed by an earlier attempt keeps its name.
        systemctl reset-failed {up.unit} 2>/dev/null || true
        id chaton-bench-upstream >/dev/null 2>&1 || useradd --system --home {UPSTREAM_DIR} chaton-bench-upstream
        mkdir -p {UPSTREAM_DIR} && rm -rf {up.directory} && mkdir -p {up.directory}
        cp -a {release} {up.directory}/etherpad
        cd {up.directory}/etherpad
        rm -rf var settings.json && mkdir var
        # Upstream's settings (on stdin), on another port than chaton's Etherpad: the template has no variable
        # for it.
        cat > settings.json
        chmod 0600 settings.json
        # The plugin list of the release as installed (without it Etherpad migrates plugins through pnpm at
        # start, as `pnpm run prod` would with pnpm on its PATH); the settings stay upstream's.
        cp /var/lib/etherpad/var/installed_plugins.json var/
        chown -R chaton-bench-upstream: {UPSTREAM_DIR}
        systemd-run --unit {up.unit} --uid chaton-bench-upstream \
          -p WorkingDirectory={up.directory}/etherpad/src -E NODE_ENV=production \
          -E HOME={up.directory} {node} --require tsx/cjs node/server.ts""",
        timeout=600,
        stdin=settings,
    )
    for _ in range(90):
        if '"pass"' in h.sh(h.HOST, f"curl -s {up.url}/health", check=False):
            return
        time.sleep(2)
    raise RuntimeError(
        f"{up.label} did not answer /health: " + h.sh(h.HOST, f"journalctl -u {up.unit} -n 30 --no-pager", check=False)
    )


def stop_upstream(up: Upstream) -> None:
    h.sh(h.HOST, f"systemctl stop {up.unit}; rm -rf {up.directory}", check=False)
    if up.database:
        h.sh(
            h.HOST,
            f"cd / && runuser -u postgres -- psql -Xq -c 'DROP DATABASE IF EXISTS {up.database}' "
            f"-c 'DROP ROLE IF EXISTS {up.database}'",
            check=False,
        )


def load_running(url: str, pad: str) -> str:
    """The shell test that is true while etherpad-loadtest runs on this pad."""
    return f"pgrep -f '[e]therpad-loadtest {url}/p/{pad}'"


def start_load(url: str, pad: str, authors: int, lurkers: int, seconds: int, limit: int) -> str:
    """etherpad-loadtest with a fixed crowd on one pad, in the background on the bench host for `seconds` (killed
    after `limit`); returns the file its output goes to."""
    out = f"/var/tmp/chaton-bench-load-{pad}.txt"
    h.sh(
        h.HOST,
        f"cd {NODE_DIR} && {_node_env()} nohup timeout {limit} {_node()} -r {CLIENT} "
        f"node_modules/.bin/etherpad-loadtest {url}/p/{pad} -a {authors} -l {lurkers} -d {seconds} "
        f"> {out} 2>&1 < /dev/null &",
    )
    return out


def fixed_load(url: str, pad: str, authors: int, lurkers: int, seconds: int, during=None) -> dict:
    """etherpad-loadtest with a fixed crowd on one pad; the latency probe runs on the same pad meanwhile."""
    out = start_load(url, pad, authors, lurkers, seconds, limit=seconds + 30)
    time.sleep(8)
    side: dict = {}
    worker = None
    if during:
        worker = threading.Thread(target=lambda: side.update(during()))
        worker.start()
    probe = h.sh(
        h.HOST,
        f"cd {NODE_DIR} && {_node_env()} {_node()} -r {CLIENT} {PROBES}/latency.js {url}/p/{pad} {seconds - 15}",
        check=False,
        timeout=seconds + 60,
    )
    if worker:
        worker.join()
    for _ in range(seconds + 40):
        if not h.sh(h.HOST, load_running(url, pad), check=False).strip():
            break
        time.sleep(1)
    raw = h.sh(h.HOST, f"cat {out}", check=False)
    (h.workdir() / f"loadtest-{pad}.txt").write_text(raw, encoding="utf-8")
    load = parse.loadtest(raw)
    try:
        latency = json.loads(probe.strip().splitlines()[-1])
    except (ValueError, IndexError):
        latency = {"accept_ms": [], "seen_ms": [], "errors": [probe[-300:]]}
    return {"load": load, "latency": latency, **side}


def ramp(url: str, pad: str, limit: int) -> dict:
    """etherpad-loadtest's own ramp: one author and three lurkers more every second until the server
    lags more than 100 commits behind (or the time limit)."""
    out = h.sh(
        h.HOST,
        f"cd {NODE_DIR} && {_node_env()} timeout {limit} {_node()} -r {CLIENT} node_modules/.bin/etherpad-loadtest "
        f"{url}/p/{pad} 2>&1 | tail -c 4000; echo; echo exit=${{PIPESTATUS[0]}}",
        check=False,
        timeout=limit + 60,
    )
    result = parse.loadtest(out)
    code = out.strip().rsplit("exit=", 1)[-1]
    if code == "124":
        result["stopped"] = "time limit"
    elif "socket timeout" in out or "connection error" in out:
        result["stopped"] = (
            "client could not connect (" + ("socket timeout" if "socket timeout" in out else "error") + ")"
        )
    else:
        result["stopped"] = "server lagged (100 commits unanswered)"
    return result


def step_etherpad(state: dict, log, seconds: int = 45, authors: int = 5, lurkers: int = 15, limit: int = 90) -> None:
    if "etherpad" not in state["services"]:
        state["etherpad"] = {"skipped": "SKIPPED etherpad: not deployed (its release is not in the mirror)"}
        return
    install_loadtest(log)
    # Chaton's Etherpad through the proxy and without it, then the bare upstream on PostgreSQL (the fair comparison,
    # issue #21), then the bare upstream on its default `dirty` database; all run during each measurement.
    targets = [("chaton", "chaton (nginx + chaton settings)", f"https://pad.{h.DOMAIN}")]
    # What the proxy costs, apart from chaton's settings: chaton's Etherpad on its loopback port (no target).
    targets += [("chaton-direct", "chaton's Etherpad without the proxy (chaton settings)", "http://127.0.0.1:9001")]
    targets += [(up.kind, up.label, up.url) for up in sorted(UPSTREAMS, key=lambda up: up.database is None)]
    results: dict = {}
    try:
        for up in UPSTREAMS:
            start_upstream(up, log)
        for kind, label, url in targets:
            stamp = int(time.time())
            during = None
            if kind == "chaton":

                def during() -> dict:
                    h.reset_peak(h.HOST)
                    time.sleep(5)
                    # PeerTube's transcoding outlasts this load: it has a load of its own (step_transcode).
                    light = [s for s in state["services"] if s != "peertube"]
                    ok = step_checks(state, "checks_under_load", log, services=light)
                    return {"checks_under_load_ok": ok}

            log(f"{label}: {authors} authors + {lurkers} lurkers on one pad for {seconds} s, latency probe beside")
            fixed = fixed_load(url, f"benchfixed{stamp}", authors, lurkers, seconds, during)
            if kind == "chaton":
                fixed["cgroup_after_load"] = h.cgroup_memory(h.HOST)
            log(f"{label}: ramp until the server lags (at most {limit} s)")
            results[label] = {"kind": kind, "url": url, "fixed": fixed, "ramp": ramp(url, f"benchramp{stamp}", limit)}
            state["etherpad"] = {"targets": results, "authors": authors, "lurkers": lurkers, "seconds": seconds}
            h.save_state(state)
        pages = {
            "through chaton's proxy (HTTPS)": f"https://pad.{h.DOMAIN}/p/benchpage",
            "chaton's Etherpad without the proxy": "http://127.0.0.1:9001/p/benchpage",
            "bare upstream Etherpad": f"http://127.0.0.1:{UPSTREAM_PORT}/p/benchpage",
        }
        weights = {}
        for label, url in pages.items():
            out = h.sh(h.HOST, f"python3 {PROBES}/pageweight.py {shlex.quote(url)} {checks.CA}", timeout=300)
            data = json.loads(out)
            weights[label] = {**parse.page_weight(data), "raw": data}
        state["etherpad"]["pages"] = weights
        h.save_state(state)
    finally:
        for up in UPSTREAMS:
            stop_upstream(up)


# The transcoding step's video: what a user's phone or camera uploads, a minute of 720p.
TRANSCODE_CLIP = {"seconds": 60, "size": "1280x720"}


def step_transcode(state: dict, log, authors: int = 5, lurkers: int = 15, limit: int = 900) -> None:
    """A video uploaded and transcoded by PeerTube while chaton's Etherpad carries the bench's fixed load: the load
    starts first and is stopped once the video is published (or the check failed); the container's peak memory and
    OOM kills over that window, the load's commits, and whether the load still ran when the video was published."""
    if "peertube" not in state["services"] or "etherpad" not in state["services"]:
        return
    pad = f"benchtranscode{int(time.time())}"
    url = f"https://pad.{h.DOMAIN}"
    h.reset_peak(h.HOST)
    before = h.cgroup_memory(h.HOST)
    log(f"PeerTube transcoding under Etherpad load ({authors} authors + {lurkers} lurkers on one pad)")
    out = start_load(url, pad, authors, lurkers, seconds=limit, limit=limit)
    running = load_running(url, pad)
    try:
        time.sleep(8)
        result = {"load_running_at_start": bool(h.sh(h.HOST, running, check=False).strip()), "clip": TRANSCODE_CLIP}
        start = time.monotonic()
        try:
            name, ok, detail = checks.peertube(testinfra_host(), h.DOMAIN, h.secrets_dir(), **TRANSCODE_CLIP)
        except Exception as exc:  # a failed check, with its reason
            name, ok, detail = "peertube check", False, repr(exc)[:300]
        result["checks_transcode"] = [
            {"check": name, "ok": ok, "detail": detail, "seconds": round(time.monotonic() - start, 1)}
        ]
        log(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
        result["load_running_at_end"] = bool(h.sh(h.HOST, running, check=False).strip())
    finally:
        h.sh(h.HOST, f"pkill -f '[e]therpad-loadtest {url}/p/{pad}'", check=False)
    time.sleep(2)
    result["load"] = parse.loadtest(h.sh(h.HOST, f"cat {out}", check=False))
    result["cgroup_before"] = before
    result["cgroup_after"] = h.cgroup_memory(h.HOST)
    result["authors"], result["lurkers"] = authors, lurkers
    state["transcode"] = result
    h.save_state(state)


# --- audit --------------------------------------------------------------------------------------


def lynis(name: str, log) -> dict:
    log(f"{name}: installing Debian's lynis and auditing the system")
    h.sh(
        name,
        # apt's signature check can fail once right after boot (seen here): try the update again.
        "command -v lynis >/dev/null || { for i in 1 2 3; do apt-get update -qq && break; sleep 5; done; "
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lynis; }",
        timeout=900,
    )
    h.sh(
        name,
        "lynis audit system --no-colors --quiet --report-file /var/tmp/chaton-lynis.dat "
        "--log-file /var/tmp/chaton-lynis.log >/dev/null 2>&1 || true",
        timeout=1200,
    )
    raw = h.sh(name, "cat /var/tmp/chaton-lynis.dat")
    (h.workdir() / f"lynis-{name}.dat").write_text(raw, encoding="utf-8")
    return parse.lynis_report(raw)


def testssl(names: list[str], log) -> dict:
    """testssl.sh on every name, all at once (one process per name), verified against the host's CA."""
    h.sh(
        h.HOST,
        "command -v testssl >/dev/null || DEBIAN_FRONTEND=noninteractive "
        "apt-get install -y -qq --no-install-recommends testssl.sh bsdextrautils",
        timeout=900,
    )
    log(f"testssl.sh on {', '.join(names)}")
    runs = " ".join(
        f"(rm -f /var/tmp/chaton-testssl-{n}.json; testssl --quiet --color 0 --warnings batch --add-ca {checks.CA} "
        f"--ip 127.0.0.1 --jsonfile /var/tmp/chaton-testssl-{n}.json https://{n} "
        f"> /var/tmp/chaton-testssl-{n}.txt 2>&1) &"
        for n in names
    )
    h.sh(h.HOST, f"{runs} wait", timeout=3600)
    out = {}
    for name in names:
        raw = h.sh(h.HOST, f"cat /var/tmp/chaton-testssl-{name}.json", check=False)
        (h.workdir() / f"testssl-{name}.json").write_text(raw, encoding="utf-8")
        if raw.strip():
            out[name] = parse.testssl_findings(raw)
        else:
            out[name] = {
                "error": "no JSON: " + h.sh(h.HOST, f"tail -c 300 /var/tmp/chaton-testssl-{name}.txt", check=False)
            }
    return out


def managed_units() -> list[str]:
    """Units chaton writes or amends (their file or a drop-in says "Managed by chaton"), instances resolved."""
    files = h.sh(
        h.HOST,
        "grep -ls 'Managed by chaton' /etc/systemd/system/*.service /etc/systemd/system/*.service.d/*.conf || true",
    ).split()
    units = set()
    for path in files:
        unit = path.split("/")[4].removesuffix(".d")
        if unit.endswith("@.service"):
            listed = h.sh(h.HOST, f"systemctl list-units --all --plain --no-legend '{unit[:-8]}@*.service'")
            units.update(line.split()[0] for line in listed.splitlines() if line.strip())
        else:
            units.add(unit)
    return sorted(units)


def exposures(units: list[str]) -> dict[str, float | None]:
    return {
        u: parse.exposure(h.sh(h.HOST, f"systemd-analyze security --no-pager {u} 2>&1", check=False)) for u in units
    }


def sockets(name: str) -> dict:
    found = parse.listening(h.sh(name, "ss -Htulnp"))
    addr = h.address(name)
    for s in parse.external(found):
        s["reachable"] = tcp_reachable(addr, s["port"]) if s["proto"] == "tcp" else None
    return {"all": found, "external": parse.external(found), "address": addr}


def secret_search(state: dict) -> dict:
    needles = parse.secret_needles(h.secrets_dir())
    sources: dict[str, str] = {}
    runs = h.workdir() / "runs"
    for path in sorted(p for p in runs.rglob("*") if p.is_file()):
        sources[str(path.relative_to(h.workdir()))] = path.read_text(encoding="utf-8", errors="replace")
    sources["container journal"] = h.sh(h.HOST, "journalctl --no-pager -o cat", timeout=300)
    sources["container /var/log"] = h.sh(
        h.HOST, "find /var/log -type f -size -50M ! -path '/var/log/journal/*' -exec cat {} + 2>/dev/null", check=False
    )
    hits = parse.secret_hits(needles, sources)
    return {
        "secrets": sorted(needles),
        "sources": len(sources),
        "bytes": sum(len(t) for t in sources.values()),
        "hits": hits,
    }


def step_audit(state: dict, log) -> None:
    audit: dict = {"started": now()}
    state["audit"] = audit
    audit["exposure"] = exposures(managed_units())
    audit["sockets_host"] = sockets(h.HOST)
    audit["secrets"] = secret_search(state)
    h.save_state(state, AUDIT)
    # The stock container is audited while testssl.sh and Lynis work on the host (2 shared cores: wall time).
    stock: dict = {}

    def audit_stock() -> None:
        try:
            h.start(h.STOCK, state["release"], [], log)
            stock["sockets_stock"] = sockets(h.STOCK)
            stock["lynis_stock"] = lynis(h.STOCK, log)
        except Exception as exc:  # reported, not fatal to the host's audit
            stock["stock_error"] = repr(exc)[:500]
        finally:
            h.remove(h.STOCK)

    worker = threading.Thread(target=audit_stock)
    worker.start()
    log(f"{h.HOST}: installing Debian's lynis and testssl.sh")
    h.sh(
        h.HOST,
        "for i in 1 2 3; do apt-get update -qq && break; sleep 5; done; DEBIAN_FRONTEND=noninteractive "
        "apt-get install -y -qq --no-install-recommends lynis testssl.sh bsdextrautils",
        timeout=900,
    )
    # The host as it is after its first night: the security upgrade chaton schedules (unattended-upgrades,
    # apt-daily-upgrade.timer, every day) runs once now, since the test image is older than Debian's security
    # archive. The stock container has no such job and is audited as it is.
    log(f"{h.HOST}: running the host's daily security upgrade once (unattended-upgrade)")
    h.sh(h.HOST, "unattended-upgrade", timeout=1800)
    audit["security_upgrade"] = parse.unattended_upgrades(
        h.sh(h.HOST, "cat /var/log/unattended-upgrades/unattended-upgrades.log", check=False)
    )
    host_lynis = threading.Thread(target=lambda: audit.update(lynis_host=lynis(h.HOST, log)))
    host_lynis.start()
    audit["testssl"] = testssl(state["names"], log)
    host_lynis.join()
    worker.join()
    audit.update(stock)
    audit["finished"] = now()
    h.save_state(state, AUDIT)


# --- reports ------------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}"


def header(state: dict, command: str, started_key: str) -> str:
    m = state.get("machine", {})
    return "\n".join(
        [
            f"## {'Bench' if started_key == 'started' else 'Audit'}: {state.get(started_key, '?')}",
            "",
            f"- Command: `{command}`",
            f"- Machine: {m.get('nproc')} cores, {m.get('memory_mb')} MB RAM, kernel {m.get('kernel')}, load average "
            f"at start {m.get('load_average')} ({m.get('containers_running')} containers running, shared machine)"
            + (f"; load average at the end {state['load_end']}" if state.get("load_end") else ""),
            f"- Deployed: chaton {state.get('revision', '?')} (site.yml with ansible-runner)",
            f"- Host: container `{h.HOST}`, Debian {state.get('release')}, `docker run --memory {h.MEMORY}`, "
            f"services: {', '.join(state.get('services', [])) or 'base only'}",
            *[f"- {line}" for line in state.get("skipped", [])],
        ]
    )


def target_kind(label: str, target: dict) -> str:
    """chaton, upstream-pg or upstream (dirty); runs before issue #21 stored no kind."""
    return target.get("kind") or ("chaton" if label.startswith("chaton") else "upstream")


def etherpad_figures(target: dict) -> dict:
    """Latency percentiles (ms) of the fixed load and the ramp's authors per pad of one Etherpad."""
    lat = target["fixed"]["latency"]
    acc, seen = lat.get("accept_ms", []), lat.get("seen_ms", [])
    return {
        "p50": parse.percentile(acc, 50),
        "p95": parse.percentile(acc, 95),
        "s50": parse.percentile(seen, 50),
        "s95": parse.percentile(seen, 95),
        # Authors the server kept up with: none if it accepted no commit at all (the clients were refused).
        "authors": target["ramp"]["authors"] if target["ramp"].get("accepted") else None,
    }


LATENCIES = (
    ("p50", "edit round trip p50"),
    ("p95", "edit round trip p95"),
    ("s50", "seen by another user p50"),
    ("s95", "seen by another user p95"),
)


def fair_verdicts(chaton: dict, upstream: dict | None) -> list[str]:
    """Issue #21: chaton's Etherpad within FAIR_RATIO_MAX of upstream's on PostgreSQL, on every latency (at most
    that many times upstream's) and on authors per pad (upstream's at most that many times chaton's)."""
    if upstream is None:
        return ["MISSED: Etherpad: the bare upstream on PostgreSQL was not measured in this run (no fair comparison)"]

    def shown(r: float | None) -> str:
        # Three digits where two would print the limit itself for a ratio just over it.
        return _fmt(r, "", 3 if r is not None and r != FAIR_RATIO_MAX and round(r, 2) == FAIR_RATIO_MAX else 2)

    out = []
    for key, name in LATENCIES:
        a, b = chaton[key], upstream[key]
        r = a / b if a is not None and b else None
        out.append(
            f"{'met' if r is not None and r <= FAIR_RATIO_MAX else 'MISSED'}: Etherpad {name}: chaton "
            f"{_fmt(a, ' ms')}, upstream on PostgreSQL {_fmt(b, ' ms')}, {shown(r)}x "
            f"(target <= {FAIR_RATIO_MAX}x)"
        )
    a, b = chaton["authors"], upstream["authors"]
    r = b / a if a and b is not None else None
    out.append(
        f"{'met' if r is not None and r <= FAIR_RATIO_MAX else 'MISSED'}: Etherpad authors per pad before the "
        f"server lags: chaton {_fmt(a)}, upstream on PostgreSQL {_fmt(b)}, upstream/chaton {shown(r)} "
        f"(target <= {FAIR_RATIO_MAX}: chaton keeps at least 1/{FAIR_RATIO_MAX} of upstream's authors)"
    )
    return out


def bench_sections(state: dict) -> tuple[list[Section], list[str]]:
    sections, verdicts = [], []
    conv = state.get("converge", {})
    first, second = conv.get("first", {}), conv.get("second", {})

    def total(run: dict, key: str) -> int:
        return sum((run.get("stats", {}).get(key) or {}).values())

    if first:
        ftasks = total(first, "ok") + total(first, "skipped") + total(first, "failures")
        stasks = total(second, "ok") + total(second, "skipped") + total(second, "failures") if second else 0
        ratio = second.get("seconds", 0) / first["seconds"] if second and first.get("seconds") else None
        sec = Section("Converge cost (site.yml, ansible-runner)", ["run", "wall time", "tasks", "changed", "failed"])
        sec.rows.append(
            ["first", f"{first['seconds']:.0f} s", ftasks, total(first, "changed"), total(first, "failures")]
        )
        if second:
            sec.rows.append(
                [
                    "no-op re-converge",
                    f"{second['seconds']:.0f} s",
                    stasks,
                    total(second, "changed"),
                    total(second, "failures"),
                ]
            )
            sec.rows.append(["ratio re-converge / first", _fmt(ratio, "", 2), "", "", ""])
            changed = total(second, "changed")
            verdicts.append(
                f"{'met' if changed == 0 else 'MISSED'}: second converge changed={changed} (target 0)"
                + (f"; changed tasks: {', '.join(second.get('changed_tasks', [])[:8])}" if changed else "")
            )
            verdicts.append(
                f"{'met' if ratio is not None and ratio <= RECONVERGE_RATIO_MAX else 'MISSED'}: no-op re-converge "
                f"takes {_fmt(ratio, '', 2)} of the first (target <= {RECONVERGE_RATIO_MAX})"
            )
        sections.append(sec)
        if second and second.get("roles"):
            sections.append(profile_section(first, second))
        if state.get("only"):
            sec, more = only_section(
                first, state["only"], {"at": state.get("only_measured_at"), "revision": state.get("only_revision")}
            )
            sections.append(sec)
            verdicts += more
    fp = state.get("footprint")
    if fp:
        sec, pss_total = footprint_section(fp, "Idle footprint per unit (sum over the unit's processes, smaps_rollup)")
        cg = fp.get("cgroup", {})
        load_cg = (ep_targets := (state.get("etherpad") or {}).get("targets") or {}) and next(
            iter(ep_targets.values())
        )["fixed"].get("cgroup_after_load")
        if load_cg:
            sec.notes.append(
                f"under the Etherpad load (chaton target) the container peaked at "
                f"{mb(load_cg.get('peak', 0), kb=False)} MB (cgroup usage incl. page cache), "
                f"OOM kills {load_cg.get('oom_kill', 0)}."
            )
        sections.append(sec)
        if "peertube" in state.get("services", []):
            within = pss_total / 1024 <= IDLE_ALL_MAX_MB and cg.get("oom_kill", 0) == 0
            verdicts.append(
                f"{'met' if within else 'MISSED'}: the whole host, PeerTube included, idles at {mb(pss_total)} MB PSS "
                f"in a 2 GB container (target <= {IDLE_ALL_MAX_MB} MB), {cg.get('oom_kill', 0)} OOM kill(s)"
            )
        else:
            within = pss_total * 1024 < CAP_BYTES and cg.get("oom_kill", 0) == 0
            verdicts.append(
                f"{'met' if within else 'MISSED'}: the whole host idles at {mb(pss_total)} MB PSS in a 2 GB "
                f"container, {cg.get('oom_kill', 0)} OOM kill(s) (PeerTube not deployed: the target of "
                f"{IDLE_ALL_MAX_MB} MB with it is not measured)"
            )
    for key, title in (
        ("checks_idle", "Functional checks, idle"),
        ("checks_under_load", "Functional checks under Etherpad load"),
    ):
        if state.get(key):
            sections.append(checks_section(title, state[key]))
            verdicts.append(checks_verdict(title, state[key]))
    if state.get("transcode"):
        targets = (state.get("etherpad") or {}).get("targets") or {}
        quiet = next((t["fixed"]["load"] for t in targets.values() if t.get("kind") == "chaton"), None)
        sec, verdict = transcode_section(state["transcode"], quiet)
        sections.append(sec)
        verdicts.append(verdict)
    if state.get("light"):
        light_secs, light_verdicts = light_sections(state["light"])
        sections += light_secs
        verdicts += light_verdicts
    ep = state.get("etherpad", {})
    if ep.get("skipped"):
        verdicts.append(ep["skipped"])
    if ep.get("targets"):
        sec = Section(
            f"Etherpad served performance ({ep['authors']} authors + {ep['lurkers']} lurkers on one pad, "
            f"{ep['seconds']} s; then etherpad-loadtest's ramp)",
            [
                "target",
                "edit round trip p50",
                "p95",
                "seen by another user p50",
                "p95",
                "commits accepted/sent",
                "ramp: authors per pad",
                "ramp stopped by",
            ],
        )
        figures = {}
        for label, t in ep["targets"].items():
            f = etherpad_figures(t)
            figures[target_kind(label, t)] = f
            load = t["fixed"]["load"]
            sec.rows.append(
                [
                    label,
                    _fmt(f["p50"], " ms"),
                    _fmt(f["p95"], " ms"),
                    _fmt(f["s50"], " ms"),
                    _fmt(f["s95"], " ms"),
                    f"{load['accepted']}/{load['sent']}",
                    _fmt(f["authors"]),
                    t["ramp"]["stopped"],
                ]
            )
            lat = t["fixed"]["latency"]
            if lat.get("errors"):
                sec.notes.append(f"{label}: probe errors {lat['errors'][:3]}")
            for run, result in (("fixed load", load), ("ramp", t["ramp"])):
                if result.get("sent") and not result.get("accepted"):
                    sec.notes.append(f"{label}: {run}: the server accepted none of {result['sent']} commits")
        chaton = figures.get("chaton")
        for kind, name in (
            ("upstream-pg", "upstream on PostgreSQL"),
            ("upstream", "upstream on dirty"),
            ("chaton-direct", "chaton without the proxy"),
        ):
            if chaton and kind in figures:
                b = figures[kind]
                sec.rows.append(
                    [f"ratio chaton / {name}"]
                    + [_ratio(chaton[k], b[k]) for k in ("p50", "p95", "s50", "s95")]
                    + ["", _ratio(chaton["authors"], b["authors"]), ""]
                )
        if chaton:
            verdicts += fair_verdicts(chaton, figures.get("upstream-pg"))
        if "upstream" in figures:
            sec.notes.append(
                "upstream on dirty: for reference, not a target (upstream's settings.json.template says the dirty "
                "file database is for testing only); its writes are not buffered (ueberDB's dirty driver sets "
                "writeInterval 0)."
            )
        if "upstream-pg" in figures:
            sec.notes.append(
                "on PostgreSQL, chaton's Etherpad and upstream's alike: ueberDB's PostgreSQL driver fixes a 100 ms "
                "write interval and Etherpad passes no setting that changes it, so an edit is acknowledged after "
                "the buffer's next flushes (bench/README.md, \"Etherpad's write interval\")."
            )
        if ep.get("measured_at"):
            sec.notes.append(f"measured again at {ep['measured_at']} on the same host (`{ep.get('command')}`).")
        sec.notes.append(
            "edit round trip: an author's 4-character edit until the server's ACCEPT_COMMIT; seen by another "
            "user: until the change reaches a second client on the same pad (bench/probes/latency.js)."
        )
        sections.append(sec)
    if ep.get("pages"):
        sec = Section(
            "Bytes a browser downloads for the pad page (HTML + referenced scripts, styles, icons)",
            ["served", "requests", "first visit KB", "repeat visit KB", "compressed responses", "errors"],
        )
        for label, p in ep["pages"].items():
            sec.rows.append(
                [
                    label,
                    p["requests"],
                    f"{p['first_bytes'] / 1024:.0f}",
                    f"{p['repeat_bytes'] / 1024:.0f}",
                    p["compressed"],
                    len(p["failed"]),
                ]
            )
        pg = list(ep["pages"].values())
        if len(pg) == 3 and pg[2]["first_bytes"]:
            sec.rows.append(
                [
                    "ratio proxy / bare upstream",
                    "",
                    _ratio(pg[0]["first_bytes"], pg[2]["first_bytes"]),
                    _ratio(pg[0]["repeat_bytes"], pg[2]["repeat_bytes"]),
                    "",
                    "",
                ]
            )
            ok = pg[0]["first_bytes"] <= pg[2]["first_bytes"]
            verdicts.append(
                f"{'met' if ok else 'MISSED'}: the pad page through chaton's proxy weighs "
                f"{_ratio(pg[0]['first_bytes'], pg[2]['first_bytes'])}x the bare upstream's on a first visit, "
                f"{_ratio(pg[0]['repeat_bytes'], pg[2]['repeat_bytes'])}x on a repeat visit (target <= 1)"
            )
        sec.notes.append(
            "repeat visit: fresh by Cache-Control costs 0, ETag/Last-Modified revalidation costs the 304, the rest is "
            "fetched again (bench/probes/pageweight.py; what the page's scripts load later is not counted)."
        )
        sections.append(sec)
    return sections, verdicts


def only_section(first: dict, runs: dict, again: dict | None = None) -> tuple[Section, list[str]]:
    """`chaton deploy --only <service>` on the unchanged host, against the first converge of the whole host.
    ``again``: when and with which tree `chaton bench --only deploy` measured them again ({} for the main run)."""
    sec = Section(
        "chaton deploy --only <service> on the unchanged host (playbooks/service.yml)",
        ["service", "wall time", "tasks", "changed", "ratio to the first converge"],
    )
    verdicts = []
    for service, run in runs.items():
        stats = run.get("stats", {})
        tasks = sum(sum((stats.get(k) or {}).values()) for k in ("ok", "skipped", "failures"))
        changed = sum((stats.get("changed") or {}).values())
        ratio = run["seconds"] / first["seconds"] if first.get("seconds") else None
        sec.rows.append([service, f"{run['seconds']:.0f} s", tasks, changed, _fmt(ratio, "", 3)])
        ok = ratio is not None and ratio <= ONLY_RATIO_MAX and changed == 0 and run.get("rc") == 0
        verdicts.append(
            f"{'met' if ok else 'MISSED'}: chaton deploy --only {service} on an unchanged host takes "
            f"{_fmt(ratio, '', 3)} of the first converge, changed={changed} (target <= {ONLY_RATIO_MAX}, 0 changed)"
        )
    if (again or {}).get("at"):
        sec.notes.append(
            f"measured again at {again['at']} on the same host with chaton {again.get('revision', '?')} "
            "(`chaton bench --only deploy`)."
        )
    if runs:
        slow = max(runs.values(), key=lambda r: r["seconds"])
        if slow.get("roles"):
            sec.notes.append(
                "per role in the slowest of them: "
                + ", ".join(
                    f"{role} {r['seconds']:.0f} s/{r['tasks']} tasks"
                    for role, r in sorted(slow["roles"].items(), key=lambda kv: -kv[1]["seconds"])[:8]
                )
            )
    return sec, verdicts


def profile_section(first: dict, second: dict) -> Section:
    """Where each converge spends its time, per role (the tasks' own durations as ansible-runner reports them),
    the no-op re-converge's slowest tasks in the notes."""
    sec = Section(
        "Where the time goes, per role (sum of the tasks' durations)",
        ["role", "first", "no-op re-converge", "tasks (no-op)", "per task (no-op)"],
    )
    roles = sorted(second["roles"].items(), key=lambda kv: -kv[1]["seconds"])
    for role, r in roles:
        f = (first.get("roles") or {}).get(role, {})
        per = r["seconds"] / r["tasks"] if r["tasks"] else None
        sec.rows.append([role, _fmt(f.get("seconds"), " s"), f"{r['seconds']:.0f} s", r["tasks"], _fmt(per, " s", 2)])
    total = sum(r["seconds"] for _, r in roles)
    count = sum(r["tasks"] for _, r in roles)
    sec.rows.append(["all roles", "", f"{total:.0f} s", count, _fmt(total / count if count else None, " s", 2)])
    sec.notes.append(
        f"the no-op run's wall time is {second.get('seconds', 0):.0f} s: the rest is Ansible's own work between "
        "tasks (templating, host variables, the strategy) and the play's start."
    )
    if second.get("slowest"):
        sec.notes.append(
            "slowest tasks of the no-op re-converge: "
            + "; ".join(f"{name} {secs:.1f} s" for name, secs in second["slowest"][:10])
        )
    return sec


def footprint_section(fp: dict, title: str) -> tuple[Section, int]:
    """The idle footprint table of one host, and its PSS total (kB) without the probe and the test ACME server."""
    units = fp["units"]
    cg = fp.get("cgroup", {})
    sec = Section(title, ["unit", "RSS MB", "PSS MB", "processes"])
    for unit, u in sorted(units.items(), key=lambda kv: -kv[1]["pss_kb"]):
        if u["pss_kb"] >= 2048:
            sec.rows.append([unit, mb(u["rss_kb"]), mb(u["pss_kb"]), u["processes"]])
    probe = "docker exec (outside systemd)"
    counted = {k: u for k, u in units.items() if k not in (probe, h.ACME_UNIT)}
    pss_total = sum(u["pss_kb"] for u in counted.values())
    sec.rows.append(["all units (PSS total)", "", mb(pss_total), sum(u["processes"] for u in counted.values())])
    if probe in units:
        sec.notes.append(f"{probe}: the measuring probe itself, listed but not counted in the total.")
    if h.ACME_UNIT in units:
        sec.notes.append(
            f"{h.ACME_UNIT}: the test ACME server (Let's Encrypt's place), listed but not counted in the total."
        )
    if cg:
        sec.rows.append(["container cgroup: anon+shmem", "", mb(cg.get("rss", 0), kb=False), ""])
        sec.rows.append(["container cgroup: usage incl. page cache", "", mb(cg.get("usage", 0), kb=False), ""])
        sec.notes.append(
            f"cap {mb(cg.get('limit', 0), kb=False)} MB; "
            f"peak during converges {mb(cg.get('peak', 0), kb=False)} MB; "
            f"OOM kills {cg.get('oom_kill', 0)}; units under 2 MB PSS are not listed."
        )
    return sec, pss_total


def checks_section(title: str, results: list[dict]) -> Section:
    sec = Section(title, ["check", "result", "time"])
    for c in results:
        if c["ok"]:
            shown = c.get("detail") and c["check"].startswith("peertube")
            result = "pass" + (f" ({c['detail'][:120]})" if shown else "")
        else:
            result = f"FAIL: {c['detail'][:200]}"
        sec.rows.append([c["check"], result, _fmt(c.get("seconds"), " s")])
    return sec


def checks_verdict(title: str, results: list[dict]) -> str:
    failed = [c["check"] for c in results if not c["ok"]]
    return f"{'met' if not failed else 'MISSED'}: {title.lower()} " + (f"failed: {failed}" if failed else "all pass")


def transcode_section(t: dict, quiet_load: dict | None = None) -> tuple[Section, str]:
    """PeerTube's upload and transcoding while Etherpad carries its load (``quiet_load``: the same crowd on chaton's
    Etherpad without transcoding, from the Etherpad comparison, for reference)."""
    sec = Section(
        f"PeerTube transcoding under Etherpad load ({t['authors']} authors + {t['lurkers']} lurkers on one pad)",
        ["figure", "value"],
    )
    check = next((c for c in t.get("checks_transcode") or [] if c["check"].startswith("peertube")), {})
    after, before = t.get("cgroup_after", {}), t.get("cgroup_before", {})
    ooms = after.get("oom_kill", 0) - before.get("oom_kill", 0)
    load = t.get("load", {})
    clip = t.get("clip") or {}
    sec.rows.append(
        ["video uploaded", f"{clip.get('seconds', '?')} s of {clip.get('size', '?')} (test pattern, H.264)"]
    )
    sec.rows.append(["upload, transcode to HLS, segment read through nginx", "pass" if check.get("ok") else "FAIL"])
    sec.rows.append(["check time (upload to segment)", _fmt(check.get("seconds"), " s")])
    sec.rows.append(["detail", (check.get("detail") or "")[:200]])
    sec.rows.append(
        [
            "Etherpad load running at the upload / when published",
            f"{t.get('load_running_at_start')} / {t.get('load_running_at_end')}",
        ]
    )
    sec.rows.append(["Etherpad commits accepted/sent meanwhile", f"{load.get('accepted', 0)}/{load.get('sent', 0)}"])
    sec.rows.append(["container peak (cgroup, incl. page cache)", f"{mb(after.get('peak', 0), kb=False)} MB"])
    sec.rows.append(["OOM kills during the window", ooms])
    if quiet_load and quiet_load.get("sent") and load.get("sent"):
        sec.notes.append(
            f"Etherpad accepted {load['accepted'] / load['sent']:.0%} of the commits sent during the transcoding, "
            f"{quiet_load['accepted'] / quiet_load['sent']:.0%} with the same crowd and no transcoding (the Etherpad "
            "comparison above)."
        )
    if t.get("measured_at"):
        sec.notes.append(f"measured again at {t['measured_at']} on the same host (`chaton bench --only transcode`).")
    sec.notes.append(
        "the load starts 8 s before the upload and is stopped once the check ends; the peak is the cgroup's since "
        "its reset (cgroup v1; on cgroup v2 before kernel 6.12 it is the peak since the container started)."
    )
    ok = bool(check.get("ok")) and t.get("load_running_at_end") is True and ooms == 0
    verdict = (
        f"{'met' if ok else 'MISSED'}: a video uploaded and transcoded while Etherpad is under load: "
        f"{'pass' if check.get('ok') else 'fail'}, {ooms} OOM kill(s), load still running when published: "
        f"{t.get('load_running_at_end')}"
    )
    return sec, verdict


def light_sections(light: dict) -> tuple[list[Section], list[str]]:
    """The light profile: three services, no PeerTube, in a 1 GB container."""
    sections, verdicts = [], []
    label = f"light profile ({', '.join(light.get('services', []))} in {light.get('memory')})"
    if light.get("error") or not light.get("footprint"):
        verdicts.append(f"MISSED: {label}: {light.get('error', 'not measured to the end')}")
        return sections, verdicts
    conv = light.get("converge", {})
    if conv:
        sec = Section(f"Converge of the {label}", ["run", "wall time", "changed", "failed"])
        if light.get("revision"):
            sec.notes.append(f"measured at {light.get('started')} with chaton {light['revision']}.")
        stats = conv.get("stats", {})
        sec.rows.append(
            [
                "first",
                f"{conv.get('seconds', 0):.0f} s",
                sum((stats.get("changed") or {}).values()),
                sum((stats.get("failures") or {}).values()),
            ]
        )
        sections.append(sec)
    sec, pss_total = footprint_section(light["footprint"], f"Idle footprint per unit, {label}")
    sections.append(sec)
    cg = light["footprint"].get("cgroup", {})
    if light.get("checks_idle"):
        sections.append(checks_section(f"Functional checks, {label}", light["checks_idle"]))
        failed = [c["check"] for c in light["checks_idle"] if not c["ok"]]
        ok = not failed and cg.get("oom_kill", 0) == 0
        verdicts.append(
            f"{'met' if ok else 'MISSED'}: {label}: functional checks "
            + (f"failed: {failed}" if failed else "all pass")
            + f", idles at {mb(pss_total)} MB PSS, {cg.get('oom_kill', 0)} OOM kill(s)"
        )
    return sections, verdicts


def audit_sections(state: dict) -> tuple[list[Section], list[str]]:
    a = state.get("audit", {})
    sections, verdicts = [], []
    lh, ls = a.get("lynis_host"), a.get("lynis_stock")
    if a.get("stock_error"):
        verdicts.append(f"MISSED: the stock Debian container could not be audited: {a['stock_error']}")
    if lh:
        sec = Section("Lynis (Debian's package)", ["system", "hardening index", "warnings", "suggestions", "tests"])
        sec.rows.append(
            ["chaton host", lh["hardening_index"], len(lh["warnings"]), len(lh["suggestions"]), lh["tests_performed"]]
        )
        if ls:
            sec.rows.append(
                [
                    "stock Debian container",
                    ls["hardening_index"],
                    len(ls["warnings"]),
                    len(ls["suggestions"]),
                    ls["tests_performed"],
                ]
            )
        sec.notes += [f"chaton host warning: {w}" for w in lh["warnings"]]
        if "security_upgrade" in a:
            upgraded = a["security_upgrade"]
            sec.notes.append(
                "before Lynis, the host's own daily security upgrade (unattended-upgrade, as apt-daily-upgrade.timer "
                f"runs it) ran once: {len(upgraded)} package(s) upgraded"
                + (f" ({', '.join(upgraded[:12])}{', …' if len(upgraded) > 12 else ''})" if upgraded else "")
                + "; the stock container has no such job."
            )
        sections.append(sec)
        above = ls is None or lh["hardening_index"] > ls["hardening_index"]
        verdicts.append(
            f"{'met' if lh['hardening_index'] >= LYNIS_MIN and above else 'MISSED'}: Lynis hardening index "
            f"{lh['hardening_index']} on chaton's host, {ls['hardening_index'] if ls else '?'} on stock Debian "
            f"(target >= {LYNIS_MIN} and above stock)"
        )
    if a.get("testssl"):
        sec = Section("testssl.sh per service name", ["name", "CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN", "OK"])
        bad = []
        for name, r in a["testssl"].items():
            if "error" in r:
                sec.rows.append([name, r["error"], "", "", "", "", ""])
                bad.append(name)
                continue
            c = r["counts"]
            sec.rows.append(
                [
                    name,
                    c.get("CRITICAL", 0),
                    c.get("HIGH", 0),
                    c.get("MEDIUM", 0),
                    c.get("LOW", 0),
                    c.get("WARN", 0),
                    c.get("OK", 0),
                ]
            )
            for f in r["notable"]:
                if f["severity"] in ("CRITICAL", "HIGH", "MEDIUM"):
                    sec.notes.append(f"{name}: {f['severity']} {f['id']}: {f['finding']}")
                if f["severity"] in ("CRITICAL", "HIGH"):
                    bad.append(f"{name} {f['id']}")
        low = sorted(
            {f["id"] for r in a["testssl"].values() for f in r.get("notable", []) if f["severity"] in ("LOW", "WARN")}
        )
        if low:
            sec.notes.append(f"LOW/WARN finding ids: {', '.join(low)}")
        sections.append(sec)
        verdicts.append(f"{'met' if not bad else 'MISSED'}: testssl.sh HIGH/CRITICAL findings: {bad or 'none'}")
    if a.get("exposure"):
        sec = Section("systemd-analyze security of chaton-managed units", ["unit", "exposure", "<= 2.0"])
        over = []
        for unit, value in sorted(a["exposure"].items(), key=lambda kv: -(kv[1] or 99)):
            ok = value is not None and value <= EXPOSURE_MAX
            sec.rows.append([unit, _fmt(value, "", 1), "yes" if ok else "NO"])
            if not ok:
                over.append(f"{unit} {value}")
        sections.append(sec)
        verdicts.append(
            f"{'met' if not over else 'MISSED'}: exposure <= {EXPOSURE_MAX} for every chaton-managed unit"
            + (f"; over: {over}" if over else "")
        )
    if a.get("sockets_host"):
        sec = Section(
            "Listening sockets bound beyond loopback",
            ["system", "proto", "address", "port", "process", "reachable from another host"],
        )
        unexpected = []
        allowed = ALLOWED_PORTS | set(state.get("inventory_ports", []))
        for label, key in (("chaton host", "sockets_host"), ("stock Debian", "sockets_stock")):
            for s in (a.get(key) or {}).get("external", []):
                reach = {True: "yes", False: "no (firewall)", None: "not probed (udp)"}[s.get("reachable")]
                sec.rows.append([label, s["proto"], s["address"], s["port"], s["process"], reach])
                if s["port"] in (UPSTREAM_PORT, UPSTREAM_PG_PORT):
                    sec.rows[-1][4] += " (the bench's bare upstream Etherpad, not part of the host)"
                    continue
                if label == "chaton host" and s.get("reachable") is not False and s["port"] not in allowed:
                    unexpected.append(f"{s['proto']}/{s['port']} ({s['process']})")
        sec.notes.append(
            "reachable: a TCP connection from the machine running the audit to the container's address opens."
        )
        sections.append(sec)
        verdicts.append(
            f"{'met' if not unexpected else 'MISSED'}: reachable from outside only {sorted(allowed)}"
            + (f"; also: {unexpected}" if unexpected else "")
        )
    if a.get("secrets"):
        s = a["secrets"]
        sec = Section(
            "Generated secrets searched in the Ansible runs' output, artifacts and the host's logs",
            ["secret", "source", "hits"],
        )
        for hit in s["hits"]:
            sec.rows.append([hit["secret"], hit["source"], hit["count"]])
        sec.notes.append(
            f"{len(s['secrets'])} secrets ({', '.join(s['secrets'])}) searched in {s['sources']} sources "
            f"({s['bytes'] / 1048576:.1f} MB: ansible-runner stdout and job events of every converge, "
            "the container's journal and /var/log)."
        )
        sections.append(sec)
        verdicts.append(
            f"{'met' if not s['hits'] else 'MISSED'}: {len(s['hits'])} secret hit(s) in output and logs (target 0)"
        )
    return sections, verdicts


# --- entry points -------------------------------------------------------------------------------


def bench(console, release: str, reuse: bool, report_only: bool, command: str, only: str | None = None) -> int:
    log = console.print
    state = h.load_state() if (reuse or report_only or only) else {}
    if only == "light":
        # The light profile again; the whole host's figures stay those of the last run.
        if not state.get("services"):
            state = {"started": now(), "machine": h.machine(), "command": command, "release": release}
            state["services"] = h.available_services(log)
        step_light(state, release, log)
        state["light"]["command"] = command
        h.save_state(state)
    elif only:
        if only not in ("etherpad", "deploy", "transcode"):
            console.print(f"[red]--only knows four parts: etherpad, deploy, transcode, light (not {only!r})[/red]")
            return 2
        if not (state.get("converge", {}).get("second") and h.running(h.HOST)):
            console.print(f"[red]--only {only} measures the host the last run converged: no running {h.HOST}[/red]")
            return 2
        if only == "deploy":
            # `chaton deploy --only <service>` again on the same host; the other figures stay those of the last run.
            state["only_measured_at"] = now()
            state["only_revision"] = h.revision()
            step_only(state, log)
        elif only == "transcode":
            # PeerTube's transcoding under Etherpad load again on the same host.
            prepare_probes(state)
            install_loadtest(log)
            step_transcode(state, log)
            state["transcode"]["measured_at"] = now()
            h.save_state(state)
        else:
            # The Etherpad comparison again on the same host; the other figures stay those of the last run.
            prepare_probes(state)
            step_etherpad(state, log)
            state["etherpad"]["measured_at"] = now()
            state["etherpad"]["command"] = command
            h.save_state(state)
    elif not report_only:
        if not (reuse and state.get("converge", {}).get("second") and h.running(h.HOST)):
            state = {"started": now(), "machine": h.machine(), "command": command}
            step_converge(state, release, log)
            step_only(state, log)
        prepare_probes(state)
        log("functional checks (idle)")
        if not step_checks(state, "checks_idle", log):
            log("[red]functional checks fail: the footprint is measured anyway[/red]")
        step_footprint(state, log)
        step_etherpad(state, log)
        step_transcode(state, log)
        step_light(state, release, log)
        state["finished"] = now()
        state["load_end"] = h.machine()["load_average"]
        h.save_state(state)
    sections, verdicts = bench_sections(state)
    show(console, sections)
    for v in verdicts:
        console.print(f"- {v}", highlight=False)
    write(results_file(), "bench", header(state, state.get("command", command), "started"), sections, verdicts)
    console.print(f"report: {results_file()}; keep or remove the host: docker rm -f {h.HOST}")
    return 0 if not any(v.startswith("MISSED") for v in verdicts) else 1


def audit(console, release: str, keep: bool, report_only: bool, command: str) -> int:
    log = console.print
    state = h.load_state(AUDIT) if report_only else h.load_state()
    if not report_only:
        if not (state.get("converge", {}).get("second") and h.running(h.HOST)):
            log(f"no converged {h.HOST}: creating and converging it")
            state = {"started": now(), "machine": h.machine(), "command": command}
            step_converge(state, release, log)
            prepare_probes(state)
        state["audit_machine"] = h.machine()
        state["audit_command"] = command
        step_audit(state, log)
        state["audit_load_end"] = h.machine()["load_average"]
        h.save_state(state, AUDIT)
        if not keep:
            h.remove(h.HOST)
    sections, verdicts = audit_sections(state)
    show(console, sections)
    for v in verdicts:
        console.print(f"- {v}", highlight=False)
    audit_state = {
        **state,
        "machine": state.get("audit_machine", state.get("machine", {})),
        "load_end": state.get("audit_load_end"),
    }
    audit_state["audit_started"] = state.get("audit", {}).get("started")
    write(
        results_file(),
        "audit",
        header(audit_state, state.get("audit_command", command), "audit_started"),
        sections,
        verdicts,
    )
    console.print(f"report: {results_file()}")
    return 0 if not any(v.startswith("MISSED") for v in verdicts) else 1
