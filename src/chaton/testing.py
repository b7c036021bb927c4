"""Helpers the Molecule verifiers (testinfra) share.

They drive the instance the way a user or an outsider would: HTTPS through
the proxy with the ACME server's real root, the check-mode run of the
playbook, sockets from the controller.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import time
from pathlib import Path

PEBBLE_ROOT = "/etc/pebble-test/root.pem"

RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def molecule_env() -> dict[str, str]:
    """The ansible environment Molecule gives its own steps."""
    env = dict(os.environ)
    project = Path(env.get("MOLECULE_PROJECT_DIRECTORY", Path.cwd()))
    env.setdefault("ANSIBLE_ROLES_PATH", str(project / "roles"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(project / ".collections"))
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def run_playbook_check(playbook: str | None = None, extra: list[str] | None = None) -> tuple[str, dict[str, dict]]:
    """Run the scenario's converge playbook with --check --diff; return output and recap per host."""
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    playbook = playbook or str(scenario / "converge.yml")
    cmd = ["ansible-playbook", "-i", inventory, "--check", "--diff", playbook, *(extra or [])]
    env = molecule_env()
    cfg = ephemeral / "ansible.cfg"
    if cfg.is_file():
        env["ANSIBLE_CONFIG"] = str(cfg)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    recap = {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"} for m in RECAP.finditer(out)}
    if proc.returncode != 0 or not recap:
        raise AssertionError(f"check-mode run failed (exit {proc.returncode}):\n{out[-6000:]}")
    return out, recap


def assert_check_mode_clean() -> None:
    """`--check --diff` on the converged instance: no failure, nothing would change."""
    output, recap = run_playbook_check()
    assert all(r["failed"] == 0 for r in recap.values()), output[-4000:]
    assert all(r["changed"] == 0 for r in recap.values()), changed_tasks(output)


def changed_tasks(output: str) -> list[str]:
    """Names of the tasks a run reported as changed."""
    tasks, current = [], None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            current = line[6:].split("]")[0]
        elif line.startswith("changed:") and current:
            tasks.append(current)
    return tasks


def pebble_root(host) -> str:
    """Save the ACME server's current root on the instance; return its path."""
    cmd = host.run("curl -fsS --cacert /etc/pebble-test/api-ca.pem https://127.0.0.1:15000/roots/0 -o %s", PEBBLE_ROOT)
    assert cmd.rc == 0, cmd.stderr
    return PEBBLE_ROOT


def curl(host, url: str, *args: str, cacert: str | None = None):
    """curl on the instance (names resolve to it through /etc/hosts)."""
    parts = ["curl", "-sS", "--max-time", "30"]
    if cacert:
        parts += ["--cacert", cacert]
    parts += [*args, url]
    return host.run(" ".join(shlex.quote(p) for p in parts))


def restart_instance(host, timeout: int = 120) -> None:
    """Restart the instance itself (docker restart by its own name) and wait until systemd has booted."""
    subprocess.run(["docker", "restart", host.backend.get_hostname()], check=True, capture_output=True, timeout=180)
    for _ in range(timeout // 2):
        if host.run("systemctl is-system-running --wait").stdout.strip() in ("running", "degraded"):
            return
        time.sleep(2)


def instance_address(host) -> str:
    out = host.check_output("hostname -I")
    return out.split()[0]


def tcp_reachable(address: str, port: int, timeout: float = 3.0) -> bool:
    """Whether a TCP connection from the controller to the instance opens."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def run_playbook(playbook: str, extra: list[str] | None = None, *, check: bool = True) -> tuple[str, float]:
    """Run a project playbook (path relative to the project) against the scenario's instance.

    Return its output and wall time in seconds; fail the test with the output's tail when it fails
    (unless check is false: a test expecting the playbook to fail reads the output itself).
    """
    project = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path.cwd()))
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(project / playbook), *(extra or [])]
    env = molecule_env()
    cfg = ephemeral / "ansible.cfg"
    if cfg.is_file():
        env["ANSIBLE_CONFIG"] = str(cfg)
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f"{playbook} failed (exit {proc.returncode}):\n{out[-6000:]}")
    return out, elapsed
