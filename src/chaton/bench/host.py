"""The bench host: a systemd container capped at 2 GB, its inventory, and timed converges.

The container is made the way `chaton demo` and the Molecule platforms make theirs (the
chaton-test/debian image, systemd flags), plus ``--memory 2g`` like a small rented server.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner
import yaml

from chaton import demo, project_root, specs
from chaton.harness import docker as engine
from chaton.harness import images
from chaton.runner import ansible_env

HOST = "chaton-bench-host"
STOCK = "chaton-bench-stock"
DOMAIN = "chaton.test"
MEMORY = "2g"
# The light profile (issue #21): the three light services, no PeerTube, in the cheapest servers associations
# rent (1 GB). Its own container and inventory, measured after the whole host.
LIGHT = "chaton-bench-light"
LIGHT_MEMORY = "1g"
LIGHT_SERVICES = ("etherpad", "ethercalc", "framadate")


def tree() -> Path:
    """The tree whose site.yml and roles are deployed: this checkout, or CHATON_BENCH_TREE (e.g. a
    `git worktree` of a commit, when the checkout holds other people's work in progress)."""
    value = os.environ.get("CHATON_BENCH_TREE")
    return Path(value).resolve() if value else project_root()


def revision() -> str:
    """The deployed tree's commit, with "+changes" when it differs from it."""
    head = subprocess.run(["git", "-C", str(tree()), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [
            "git",
            "-C",
            str(tree()),
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            "roles",
            "playbooks",
            "site.yml",
        ],
        capture_output=True,
        text=True,
    )
    return (head.stdout.strip() or "?") + (" +uncommitted changes" if dirty.stdout.strip() else "")


def workdir() -> Path:
    path = project_root() / ".cache" / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def inventory_dir(name: str = HOST) -> Path:
    return workdir() / ("inventory" if name == HOST else f"inventory-{name.removeprefix('chaton-bench-')}")


def secrets_dir(name: str = HOST) -> Path:
    return inventory_dir(name) / "secrets" / name


def names(services: list[str]) -> list[str]:
    """The host's names: the portal and one sub-domain per service."""
    return [DOMAIN] + [f"{specs.services(tree())[s].subdomain}.{DOMAIN}" for s in services]


def peertube_build() -> dict:
    """PeerTube pinned to the mirror's test build, as `chaton demo` does ({} without one)."""
    return demo.peertube_test_build()


def available_services(log) -> list[str]:
    """The rule of `chaton demo`, on the deployed tree's roles: a service whose artifacts are missing from
    CHATON_ARTIFACT_MIRROR gets one SKIPPED line; PeerTube runs the mirror's test build when it holds one."""
    return demo.available_services(log, peertube_build(), command="make bench", root=tree())


def running(name: str) -> bool:
    state = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}}", name], capture_output=True, text=True, check=False
    )
    return state.returncode == 0 and state.stdout.strip() == "true"


def remove(name: str) -> None:
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def start(name: str, release: str, hostnames: list[str], log, *, quirks: bool = True, memory: str = MEMORY) -> str:
    """A fresh systemd container (removing an old one of that name); return its image. The container-only fixes
    are applied here unless the caller runs the harness's prepare step, which has them (`prepare`)."""
    engine.ensure_engine()
    image = images.build(release, log=log)
    remove(name)
    hosts = [arg for h in hostnames for arg in ("--add-host", f"{h}:127.0.0.1")]
    log(f"starting {name} (Debian {release}, systemd, --memory {memory})")
    engine.run_systemd(name, image, name.removeprefix("chaton-"), ["--memory", memory, "--memory-swap", memory, *hosts])
    wait_booted(name)
    if quirks:
        apply_container_quirks(name)
    return image


def wait_booted(name: str, timeout: float = 180) -> None:
    """Until systemd answers on its bus and has finished booting (running or degraded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = sh(name, "systemctl is-system-running --wait 2>/dev/null", check=False, timeout=timeout).strip()
        if state in ("running", "degraded"):
            return
        time.sleep(2)
    raise RuntimeError(f"{name}: systemd did not finish booting within {timeout:.0f} s")


def apply_container_quirks(name: str) -> None:
    """The test harness's container-only quirks (molecule/shared/tasks/container_quirks.yml): Debian's redis
    units ask for PrivateUsers=true, which these containers cannot grant (status 217/USER); process
    accounting (acct) needs CAP_SYS_PACCT, which Docker does not grant (skipped instead of failed)."""
    sh(
        name,
        "for unit in redis-server.service redis-server@.service; do "
        "mkdir -p /etc/systemd/system/$unit.d && printf '%s\\n' "
        "'# chaton bench: containers cannot grant this to redis.' '[Service]' 'PrivateUsers=false' "
        "> /etc/systemd/system/$unit.d/container.conf; done; "
        "mkdir -p /etc/systemd/system/acct.service.d && printf '%s\\n' "
        "'# chaton bench: Docker has no CAP_SYS_PACCT to give.' '[Unit]' 'ConditionCapability=CAP_SYS_PACCT' "
        "> /etc/systemd/system/acct.service.d/container.conf; systemctl daemon-reload",
    )


def sh(name: str, command: str, *, check: bool = True, timeout: float = 600, stdin: str | None = None) -> str:
    """Run a shell command in the container; return its stdout."""
    proc = subprocess.run(
        ["docker", "exec", "-i", name, "bash", "-c", command],
        capture_output=True,
        text=True,
        errors="replace",  # logs may hold binary bytes
        check=False,
        timeout=timeout,
        input=stdin,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"{name}: `{command}` failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-2000:]}")
    return proc.stdout


def put(name: str, source: Path, dest: str) -> None:
    sh(name, f"mkdir -p {shlex.quote(str(Path(dest).parent))}")
    subprocess.run(["docker", "cp", str(source), f"{name}:{dest}"], check=True, capture_output=True)


def address(name: str) -> str:
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()[0]


def container_id(name: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True, check=True
    ).stdout.strip()


def write_inventory(services: list[str], name: str = HOST) -> Path:
    directory = inventory_dir(name)
    # `docker`, the short name Mitogen takes over (as it takes `ssh` on a real server): the bench measures the
    # converge a volunteer gets (the chaton strategy, docs/maintainers/testing.md, "Mitogen").
    hosts = {"chaton": {"hosts": {name: {"ansible_connection": "docker"}}}}
    group_vars = {
        "chaton_name": "Chatons du banc d'essai",
        "chaton_domain": DOMAIN,
        "chaton_admin_email": f"admin@{DOMAIN}",
        # Certificates from a real ACME server in the container (Debian's pebble, run by the harness's prepare
        # step), through certbot and HTTP-01 as with Let's Encrypt.
        "chaton_tls": "acme",
        "chaton_acme_directory": "https://127.0.0.1:14000/dir",
        "chaton_acme_ca_bundle": "/etc/pebble-test/api-ca.pem",
        # Reached with docker exec, not SSH.
        "common_allow_no_admin": True,
        # Registries are reached through a TLS-inspecting proxy here: trust the same CAs.
        "chaton_extra_ca_certificates": sorted(glob.glob("/usr/local/share/ca-certificates/*.crt")),
        "chaton_status_address": "127.0.0.1",
        **{f"{name}_enabled": True for name in services},
    }
    if demo.mirror():
        group_vars["chaton_artifact_mirror"] = str(demo.mirror())
    if "peertube" in services:
        group_vars.update(peertube_build())
    (directory / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    (directory / "group_vars" / "all" / "bench.yml").write_text(
        "---\n# Written by `chaton bench`.\n" + yaml.safe_dump(group_vars, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return directory / "hosts.yml"


# Test-only parts of the bench host, listed in the footprint but not counted in the host's total.
ACME_UNIT = "pebble-test.service"
# The revocation address pebble writes into the certificates it issues (see molecule/shared/tasks/pebble.yml).
OCSP_URL = "http://127.0.0.1:4002/"


def prepare(inventory: Path, names: list[str], log) -> None:
    """The harness's prepare step (molecule/shared/prepare.yml), as every Molecule scenario has it: the controller's
    CA trusted, the container-only fixes, and pebble answering ACME for every name on the host."""
    from chaton import runner

    log("prepare: the harness's step (controller CA, container fixes, pebble ACME server)")
    result = runner.run_playbook(
        "molecule/shared/prepare.yml",
        inventory,
        extravars={"molecule_test_names": names[1:], "molecule_pebble_ocsp_url": OCSP_URL},
        quiet=True,
    )
    if not result.ok:
        raise RuntimeError(f"the bench host could not be prepared: {result.stdout[-2000:]}")


@dataclass
class Converge:
    label: str
    seconds: float
    rc: int
    stats: dict = field(default_factory=dict)
    artifacts: str = ""
    changed_tasks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # Where the time goes: per role, seconds and task results; the slowest tasks ("role : task", seconds).
    roles: dict = field(default_factory=dict)
    slowest: list = field(default_factory=list)

    def count(self, key: str) -> int:
        return sum((self.stats.get(key) or {}).values())

    @property
    def tasks(self) -> int:
        """Task results of the run (ok includes changed; plus skipped and failed)."""
        return self.count("ok") + self.count("skipped") + self.count("failures")


def converge(label: str, inventory: Path, log, playbook: str = "site.yml", extravars: dict | None = None) -> Converge:
    """site.yml (or another playbook of the tree) through ansible-runner, keeping its artifacts (the secret search
    reads them)."""
    root = tree()
    private = workdir() / "runs" / label
    if private.exists():
        subprocess.run(["rm", "-rf", str(private)], check=True)
    private.mkdir(parents=True)
    changed: list[str] = []
    failures: list[str] = []
    roles: dict[str, dict] = {}
    tasks: list[tuple[str, float]] = []

    def handler(event: dict) -> bool:
        data = event.get("event_data") or {}
        kind = event.get("event")
        if kind in ("runner_on_ok", "runner_on_skipped", "runner_on_failed") and data.get("duration") is not None:
            role = data.get("role") or "(playbook)"
            entry = roles.setdefault(role, {"seconds": 0.0, "tasks": 0})
            entry["seconds"] += float(data["duration"])
            entry["tasks"] += 1
            tasks.append((f"{role} : {data.get('task', '?')}", float(data["duration"])))
        if kind == "runner_on_ok" and (data.get("res") or {}).get("changed"):
            changed.append(data.get("task", "?"))
        if kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            failures.append(f"{data.get('task', '?')}: {str((data.get('res') or {}).get('msg', ''))[:300]}")
        return True

    log(f"converge {label}: ansible-runner {playbook} (artifacts in {private})")
    start_time = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(root / playbook),
        extravars=extravars or {},
        inventory=str(inventory.resolve()),
        # Collections come with this checkout (make setup), whichever tree is deployed.
        envvars={**ansible_env(root), "ANSIBLE_COLLECTIONS_PATH": str(project_root() / ".collections")},
        quiet=True,
        event_handler=handler,
        project_dir=str(root),
    )
    seconds = time.monotonic() - start_time
    slowest = sorted(tasks, key=lambda t: -t[1])[:15]
    rounded = {r: {"seconds": round(v["seconds"], 1), "tasks": v["tasks"]} for r, v in roles.items()}
    result = Converge(label, seconds, runner.rc, runner.stats or {}, str(private), changed, failures, rounded, slowest)
    log(f"converge {label}: rc={runner.rc} in {seconds:.0f} s, changed={result.count('changed')}")
    return result


def cgroup_memory(name: str) -> dict[str, int]:
    """The container's memory cgroup as the engine sees it (cgroup v1 or v2)."""
    cid = container_id(name)
    out: dict[str, int] = {}
    candidates = [
        Path(f"/sys/fs/cgroup/memory/docker/{cid}"),
        Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope"),
        Path(f"/sys/fs/cgroup/docker/{cid}"),
    ]
    for base in candidates:
        if (base / "memory.usage_in_bytes").is_file():
            read = {
                "usage": "memory.usage_in_bytes",
                "peak": "memory.max_usage_in_bytes",
                "limit": "memory.limit_in_bytes",
                "failcnt": "memory.failcnt",
            }
            for key, file in read.items():
                out[key] = int((base / file).read_text().strip())
            stat = dict(line.split() for line in (base / "memory.stat").read_text().splitlines())
            out["rss"] = int(stat.get("total_rss", 0)) + int(stat.get("total_shmem", 0))
            out["cache"] = int(stat.get("total_cache", 0))
            oom = dict(line.split() for line in (base / "memory.oom_control").read_text().splitlines())
            out["oom_kill"] = int(oom.get("oom_kill", 0))
            return out
        if (base / "memory.current").is_file():
            out["usage"] = int((base / "memory.current").read_text())
            peak = base / "memory.peak"
            out["peak"] = int(peak.read_text()) if peak.is_file() else 0
            limit = (base / "memory.max").read_text().strip()
            out["limit"] = 0 if limit == "max" else int(limit)
            stat = dict(line.split() for line in (base / "memory.stat").read_text().splitlines())
            out["rss"] = int(stat.get("anon", 0)) + int(stat.get("shmem", 0))
            out["cache"] = int(stat.get("file", 0))
            events = dict(line.split() for line in (base / "memory.events").read_text().splitlines())
            out["oom_kill"] = int(events.get("oom_kill", 0))
            return out
    return out


def reset_peak(name: str) -> None:
    """Start a new peak measurement (cgroup v1 only: v2's memory.peak cannot be reset before 6.12)."""
    cid = container_id(name)
    path = Path(f"/sys/fs/cgroup/memory/docker/{cid}/memory.max_usage_in_bytes")
    if path.is_file():
        with contextlib.suppress(OSError):
            path.write_text("0")


def save_state(state: dict, name: str = "state.json") -> Path:
    """The bench's figures (state.json) or the audit's (audit.json): two files, as both may run at once."""
    path = workdir() / name
    path.write_text(json.dumps(state, indent=2, default=str), encoding="utf-8")
    return path


def load_state(name: str = "state.json") -> dict:
    path = workdir() / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def machine() -> dict[str, str]:
    """What a reader needs to compare figures: cores, memory, kernel, load at start."""
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // 1024
    load = Path("/proc/loadavg").read_text().split()[:3]
    return {
        "nproc": str(os.cpu_count()),
        "memory_mb": str(mem),
        "kernel": os.uname().release,
        "load_average": " ".join(load),
        "containers_running": str(
            len(subprocess.run(["docker", "ps", "-q"], capture_output=True, text=True, check=False).stdout.split())
        ),
    }
