"""Run the Molecule scenarios on each Debian release, in a sensible order."""

from __future__ import annotations

import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from chaton.harness import docker as engine
from chaton.harness import images

# Foundation first, then the services; the long single-release scenarios
# (restore converges two hosts) before the short ones, so that the two
# workers finish together.
ORDER = [
    "base",
    "ethercalc",
    "etherpad",
    "framadate",
    "peertube",
    "restore",
    "upgrade",
    "portal",
    "backup",
]
# Scenarios whose subject does not depend much on the Debian release run on
# one release only in the full suite, to keep it well inside CI's 90 minutes;
# between them both releases are covered: borgmatic 1.7 restores (restore on
# 12) and 1.9 (backup, and upgrade's rollback on 13), the portal on 13 (it
# is converged by every other scenario on both). Each service role runs on
# both. CHATON_ALL_RELEASES=1 runs every scenario on every release.
ONE_RELEASE = {"portal": "13", "backup": "13", "restore": "12", "upgrade": "13"}
# Without an artifact mirror (CI) Etherpad and PeerTube cannot be downloaded:
# their scenarios test what needs no release (database, Redis, Node.js, the
# rendered settings, unit and server block), mostly the base host again, so
# they run on one release each, PostgreSQL being covered on both between
# them. With CHATON_ARTIFACT_MIRROR set they run on both with the real app.
APP_LESS_RELEASE = {"etherpad": "12", "peertube": "13"}
SKIP_LINE = re.compile(r"SKIPPED [a-z_-]+(?: upgrade| \([^)]*\))?: .*")
# Where a failed run says why: Ansible's failed task, a failed testinfra test,
# Molecule's own error.
# Molecule's own "FAILED - RETRYING" while it waits for a container is not one.
FAILURE_LINE = re.compile(r"^(fatal: |failed: |\[ERROR\]|E   |FAILED (?!- RETRYING)|_{5,} test|CRITICAL )")


@dataclass
class Result:
    scenario: str
    release: str
    ok: bool
    seconds: float
    log: Path
    skipped: list[str] = field(default_factory=list)


def available(root: Path) -> list[str]:
    found = sorted(p.parent.name for p in (root / "molecule").glob("*/molecule.yml"))
    ordered = [s for s in ORDER if s in found]
    return ordered + [s for s in found if s not in ordered]


def releases() -> list[str]:
    return os.environ.get("CHATON_RELEASES", "12 13").split()


def releases_for(scenario: str, wanted: list[str]) -> list[str]:
    if os.environ.get("CHATON_ALL_RELEASES") == "1":
        return wanted
    only = ONE_RELEASE.get(scenario)
    if only is None and not os.environ.get("CHATON_ARTIFACT_MIRROR"):
        only = APP_LESS_RELEASE.get(scenario)
    if only is None:
        return wanted
    return [only] if only in wanted else wanted[:1]


def run_one(root: Path, scenario: str, release: str, log_dir: Path, command: str = "test") -> Result:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{scenario}-debian{release}.log"
    env = {
        **os.environ,
        "CHATON_DEBIAN": release,
        "ANSIBLE_FORCE_COLOR": "0",
        "PY_COLORS": "0",
        "NO_COLOR": "1",
        "MOLECULE_NO_LOG": "false",
        # Molecule keys its state by scenario only: releases run side by side
        # need a state directory each.
        "MOLECULE_EPHEMERAL_DIRECTORY": str(root / ".cache" / "molecule" / f"{scenario}-debian{release}"),
        # Each task's duration and each playbook's slowest tasks, in the log.
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        "PROFILE_TASKS_SORT_ORDER": "descending",
        "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "15",
    }
    start = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.run(
            ["molecule", command, "-s", scenario], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    seconds = time.monotonic() - start
    text = log.read_text(encoding="utf-8", errors="replace")
    skipped = sorted(set(m.group(0).strip().rstrip('"').rstrip("\\n") for m in SKIP_LINE.finditer(text)))
    return Result(scenario, release, proc.returncode == 0, seconds, log, skipped)


def failure_excerpt(lines: list[str], before: int = 25, after: int = 40, tail: int = 25) -> list[str]:
    """The lines around the first failure of a log, then its end (the recap)."""
    first = next((i for i, line in enumerate(lines) if FAILURE_LINE.match(line)), None)
    if first is None:
        return lines[-(before + after + tail) :]
    start = max(0, first - before)
    end = first + after
    if end >= len(lines) - tail:
        return lines[start:]
    return [*lines[start:end], f"[... {len(lines) - tail - end} lines ...]", *lines[-tail:]]


def run(root: Path, scenarios: list[str], jobs: int = 2, log=print) -> list[Result]:
    """Every (scenario, release) pair, in order, `jobs` at a time.

    The pairs form one queue rather than one batch per scenario, so a scenario
    that runs on one release only shares the machine with the next one instead
    of leaving a worker idle.
    """
    engine.ensure_engine()
    wanted = releases()
    for release in wanted:
        images.build(release, log=log)
    log_dir = root / ".cache" / "logs"
    queue = [(scenario, release) for scenario in scenarios for release in releases_for(scenario, wanted)]
    log("== scenarios: " + ", ".join(f"{s} (Debian {r})" for s, r in queue))
    results: list[Result] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run_one, root, s, r, log_dir): (s, r) for s, r in queue}
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            status = "passed" if result.ok else "FAILED"
            log(f"   {result.scenario} debian{result.release}: {status} in {result.seconds:.0f} s (log {result.log})")
            for line in result.skipped:
                log(f"   !! {line}")
            if not result.ok:
                lines = result.log.read_text(encoding="utf-8", errors="replace").splitlines()
                log("\n".join("   | " + line for line in failure_excerpt(lines)))
    order = {pair: i for i, pair in enumerate(queue)}
    return sorted(results, key=lambda r: order[(r.scenario, r.release)])
