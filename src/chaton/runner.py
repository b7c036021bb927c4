"""Run the project's playbooks through ansible-runner, with events for progress and failures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from chaton import project_root


@dataclass
class Failure:
    host: str
    task: str
    message: str


@dataclass
class Result:
    rc: int
    status: str
    failures: list[Failure] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def changed(self) -> int:
        return sum((self.stats.get("changed") or {}).values())


def ansible_env(root: Path | None = None) -> dict[str, str]:
    root = root or project_root()
    bindir = str(Path(sys.executable).parent)
    return {
        "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(root / "roles"),
        "ANSIBLE_COLLECTIONS_PATH": str(root / ".collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PIPELINING": "True",
        "PATH": f"{bindir}:{os.environ.get('PATH', '')}",
    }


def _message(res: dict) -> str:
    items = [r for r in res.get("results") or [] if isinstance(r, dict) and r.get("failed")]
    if items:
        return " ".join(_message(r) for r in items)
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    if isinstance(msg, list):
        msg = "\n".join(map(str, msg))
    return re.sub(r"\s+", " ", str(msg)).strip()


def count_tasks(playbook: str, inventory: Path, extra_args: list[str]) -> int:
    root = project_root()
    env = {**os.environ, **ansible_env(root)}
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(root / playbook), "--list-tasks", *extra_args],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        check=False,
    )
    return sum(1 for line in proc.stdout.splitlines() if line.startswith("      ") and "TAGS:" in line)


def run_playbook(
    playbook: str,
    inventory: Path,
    *,
    extravars: dict | None = None,
    limit: str | None = None,
    tags: str | None = None,
    extra_args: list[str] | None = None,
    quiet: bool = False,
    on_event: Callable[[dict], None] | None = None,
) -> Result:
    root = project_root()
    failures: list[Failure] = []

    def handler(event: dict) -> bool:
        data = event.get("event_data") or {}
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            failures.append(Failure(data.get("host", "?"), data.get("task", "?"), _message(data.get("res") or {})))
        if on_event:
            on_event(event)
        return True

    cmdline = list(extra_args or [])
    if tags:
        cmdline += ["--tags", tags]
    with tempfile.TemporaryDirectory(prefix="chaton-run-") as tmp:
        runner = ansible_runner.run(
            private_data_dir=tmp,
            playbook=str(root / playbook),
            inventory=str(Path(inventory).resolve()),
            extravars=extravars or {},
            limit=limit,
            cmdline=" ".join(cmdline) if cmdline else None,
            envvars=ansible_env(root),
            quiet=True,
            event_handler=handler,
            project_dir=str(root),
        )
        stdout = runner.stdout.read() if runner.stdout else ""
        result = Result(runner.rc, runner.status, failures, runner.stats or {}, stdout)
    if not quiet and not result.ok:
        sys.stderr.write(stdout[-4000:])
    return result


def playbook_progress(console: Console) -> Progress:
    """The progress bar of a playbook run (deploy, migrate): what, the bar, N/M, the time, the current task."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        transient=False,
    )
