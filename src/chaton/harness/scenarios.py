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

# Foundation first, then the longest runs (the real PeerTube and Etherpad
# builds, restore converging two hosts, upgrade), the short ones last, so that
# the two workers finish together.
ORDER = [
    "base",
    "peertube",
    "etherpad",
    "restore",
    "upgrade",
    "ethercalc",
    "framadate",
    "portal",
    "backup",
]
# Scenarios whose subject does not depend much on the Debian release run on
# one release only in the full suite, to keep it inside the hour; between them
# both releases are covered: borgmatic 1.7 restores (restore on 12) and 1.9
# (backup, and upgrade's rollback on 13), the portal on 13 (it is converged by
# every other scenario on both). Etherpad and PeerTube run on the Node.js
# build from the npm registry, the same binary on both releases: the real
# Etherpad runs on 12 (etherpad, restore), PeerTube on 13 (ffmpeg 7,
# PostgreSQL 17; upgrade takes it from 6.3.0 on Debian's Node.js 20).
# EtherCalc (Debian's Node.js) and Framadate (PHP) have their own scenario on
# 13, the current stable release; on 12 (Node.js 18, PHP 8.2) the restore
# scenario installs both twice (its first host and the new one), converges
# its first host a second time with nothing changed, and drives both apps'
# APIs before and after the restore. The base host runs on both.
# CHATON_ALL_RELEASES=1 runs every scenario on every release.
ONE_RELEASE = {
    "portal": "13",
    "backup": "13",
    "restore": "12",
    "upgrade": "13",
    "etherpad": "12",
    "peertube": "13",
    "ethercalc": "13",
    "framadate": "13",
}
# The scenarios that start from the bare image, proving the first install of
# every package on a fresh host; the others start from the warm image (the
# same with the base host's packages unpacked: images.WARM_PACKAGES), where
# the roles run every task as well. CHATON_WARM_IMAGE=0 starts them all bare.
BARE_IMAGE = {"base"}
SKIP_LINE = re.compile(r"SKIPPED [a-z_-]+(?: upgrade| \([^)]*\))?: .*")
# Where a failed run says why: Ansible's failed task, a failed testinfra test,
# Molecule's own error.
# Molecule's own "FAILED - RETRYING" while it waits for a container is not one.
FAILURE_LINE = re.compile(r"^(fatal: |failed: |\[ERROR\]|E   |FAILED (?!- RETRYING)|_{5,} test|CRITICAL )")
# Molecule announces each action of a scenario: "INFO     [base > converge] Executing".
ACTION_LINE = re.compile(r"^\S+\s+\[[\w.-]+ > (?P<action>[\w-]+)\] Executing\s*$")
# The check-mode run is a test of the verify step: its time is read from the
# slowest durations pytest prints (--durations in .config/molecule/config.yml).
CHECK_MODE_LINE = re.compile(r"^\s*(?P<seconds>\d+(?:\.\d+)?)s call\s+\S*::test_check_mode\w*")
# The columns of the time table; Molecule's other actions (dependency, syntax,
# cleanup, side_effect) and its own start-up count as "other".
PHASES = ["create", "prepare", "converge", "idempotence", "verify", "check mode", "destroy", "other"]


@dataclass
class Result:
    scenario: str
    release: str
    ok: bool
    seconds: float
    log: Path
    skipped: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)


def phase_seconds(actions: list[tuple[float, str]], total: float, text: str = "") -> dict[str, float]:
    """Seconds spent in each phase of one run.

    `actions`: (seconds since the start, line) for each action line Molecule printed, in order; an action lasts
    until the next one starts, the last one until `total`. `text`: the run's log, for the check-mode test's own
    duration, taken out of verify's.
    """
    phases = dict.fromkeys(PHASES, 0.0)
    starts = [(at, m.group("action")) for at, line in actions if (m := ACTION_LINE.match(line))]
    phases["other"] = starts[0][0] if starts else total
    ends = [at for at, _ in starts[1:]] + [total] if starts else []
    for (at, action), end in zip(starts, ends, strict=True):
        phases[action if action in phases else "other"] += max(0.0, end - at)
    check = sum(float(m.group("seconds")) for m in map(CHECK_MODE_LINE.match, text.splitlines()) if m)
    check = min(check, phases["verify"])
    phases["check mode"] = check
    phases["verify"] -= check
    return phases


def times_table(results: list[Result]) -> str:
    """The time table (scenario x phase, seconds) in Markdown, with a line of sums."""
    head = ["scenario", "debian", *PHASES, "total"]
    rows = [
        [r.scenario, r.release, *(f"{r.phases.get(p, 0.0):.0f}" for p in PHASES), f"{r.seconds:.0f}"] for r in results
    ]
    sums = ["all", "", *(f"{sum(r.phases.get(p, 0.0) for r in results):.0f}" for p in PHASES)]
    rows.append([*sums, f"{sum(r.seconds for r in results):.0f}"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


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
    if only is None:
        return wanted
    return [only] if only in wanted else wanted[:1]


def warm(scenario: str) -> bool:
    return scenario not in BARE_IMAGE and os.environ.get("CHATON_WARM_IMAGE", "1") != "0"


def run_one(root: Path, scenario: str, release: str, log_dir: Path, command: str = "test") -> Result:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{scenario}-debian{release}.log"
    env = {
        **os.environ,
        "CHATON_DEBIAN": release,
        # The platform's image repository (.config/molecule/config.yml).
        "CHATON_TEST_IMAGE": images.WARM_REPOSITORY if warm(scenario) else images.IMAGE_REPOSITORY,
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
        # Lines as they come, so that each action's start is timed.
        "PYTHONUNBUFFERED": "1",
        # The Docker API's answer to Molecule's create and destroy (community.docker reads it; 60 s by default):
        # removing a large instance on a loaded machine took longer, and failed a scenario whose tests had passed.
        "DOCKER_TIMEOUT": os.environ.get("DOCKER_TIMEOUT", "600"),
    }
    start = time.monotonic()
    actions: list[tuple[float, str]] = []
    with log.open("w", encoding="utf-8", buffering=1) as out:
        proc = subprocess.Popen(
            ["molecule", command, "-s", scenario],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            # Molecule writes the instance's inventory (group_vars that may hold a secret, as the etherpad
            # scenario's does): private files, as chaton's gate requires of a volunteer's inventory.
            umask=0o077,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if ACTION_LINE.match(line):
                actions.append((time.monotonic() - start, line))
        returncode = proc.wait()
    seconds = time.monotonic() - start
    text = log.read_text(encoding="utf-8", errors="replace")
    skipped = sorted(set(m.group(0).strip().rstrip('"').rstrip("\\n") for m in SKIP_LINE.finditer(text)))
    return Result(scenario, release, returncode == 0, seconds, log, skipped, phase_seconds(actions, seconds, text))


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
    queue = [(scenario, release) for scenario in scenarios for release in releases_for(scenario, wanted)]
    for release in wanted:
        if any(r == release and warm(s) for s, r in queue):
            images.build_warm(release, log=log)
        else:
            images.build(release, log=log)
    log_dir = root / ".cache" / "logs"
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
    results = sorted(results, key=lambda r: order[(r.scenario, r.release)])
    (log_dir / "times.md").write_text(times_table(results), encoding="utf-8")
    return results
