"""Make sure a Docker engine answers, installing and starting it when needed."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

DOCKERD_LOG = Path(os.environ.get("CHATON_DOCKERD_LOG", "/var/log/chaton-dockerd.log"))
# Present when systemd runs the machine: then the docker.io unit starts the engine.
SYSTEMD_RUNNING = Path("/run/systemd/system")


@contextlib.contextmanager
def held(name: str):
    """An exclusive lock shared by every chaton process of the machine (the unit tests and the scenarios run
    side by side and may both want to install a package or start the engine)."""
    with (Path("/var/tmp") / f"chaton-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def docker(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args],
        check=check,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        text=True,
    )


def _apt_install(packages: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=True, env=env)


def ensure_packages(commands: dict[str, str]) -> None:
    """Install the Debian packages providing ``commands`` (command -> package) when missing."""
    with held("apt"):
        missing = sorted({pkg for cmd, pkg in commands.items() if shutil.which(cmd) is None})
        if missing:
            print(f"installing from Debian: {' '.join(missing)}")
            _apt_install(missing)


def daemon_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(["docker", "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return result.returncode == 0


def ensure_engine(timeout: float = 180.0) -> None:
    """Docker engine up: install docker.io when missing, start dockerd when no daemon answers."""
    if daemon_answers():
        return
    with held("engine"):
        _start_engine(timeout)


# Pid files a dockerd leaves when the machine stops under it (a restored snapshot, a
# killed container): dockerd refuses to start while the pid written there is alive,
# and after a restart that pid often belongs to another process.
STALE_PID_FILES = {
    Path("/var/run/docker.pid"): "dockerd",
    Path("/var/run/docker/containerd/containerd.pid"): "containerd",
}


def _process_name(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def remove_stale_pid_files(files: dict[Path, str] | None = None) -> list[Path]:
    """Remove the pid files whose process is gone or is another program; return those removed."""
    removed = []
    for path, program in (STALE_PID_FILES if files is None else files).items():
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and _process_name(int(text)) == program:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _log_tail(lines: int = 5) -> str:
    try:
        return "\n".join(DOCKERD_LOG.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _start_engine(timeout: float) -> None:
    if daemon_answers():
        return
    ensure_packages({"dockerd": "docker.io", "docker": "docker.io"})
    process = None
    if not daemon_answers():
        started = False
        if SYSTEMD_RUNNING.exists():
            started = subprocess.run(["systemctl", "start", "docker"], check=False).returncode == 0
        if not started:
            for path in remove_stale_pid_files():
                print(f"removed {path}: left by an engine that is no longer running")
            print(f"starting dockerd (log: {DOCKERD_LOG})")
            DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
            with DOCKERD_LOG.open("ab") as log:
                process = subprocess.Popen(
                    ["dockerd"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon_answers():
            return
        if process is not None and process.poll() is not None:
            raise SystemExit(
                f"dockerd stopped (exit code {process.returncode}) before answering; the end of {DOCKERD_LOG}:\n"
                + _log_tail()
            )
        time.sleep(1)
    raise SystemExit(f"the Docker engine did not answer within {timeout:.0f} s; see {DOCKERD_LOG}")


# What systemd as PID 1 needs in a container here (no --privileged): the same
# options as the Molecule platforms in .config/molecule/config.yml.
SYSTEMD_OPTIONS = [
    "--cap-add",
    "SYS_ADMIN",
    "--cap-add",
    "NET_ADMIN",
    "--tmpfs",
    "/run",
    "--tmpfs",
    "/run/lock",
    "-v",
    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--cgroupns=host",
    "--stop-signal",
    "SIGRTMIN+3",
]


def run_systemd(name: str, image: str, hostname: str, extra: list[str] | None = None) -> None:
    """Start a detached container with systemd as PID 1 (`extra`: ports, memory cap, host entries...)."""
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "--hostname", hostname, *SYSTEMD_OPTIONS, *(extra or []), image],
        check=True,
        capture_output=True,
    )
