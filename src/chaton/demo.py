"""`chaton demo`: a whole CHATONS host in a local systemd container, reachable from this machine's browser."""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
from pathlib import Path

import yaml

from chaton import project_root, specs
from chaton.harness import docker as engine
from chaton.harness import images

# Overridable so tests can run a second demo host beside a volunteer's.
CONTAINER = os.environ.get("CHATON_DEMO_CONTAINER", "chaton-demo")
DOMAIN = "chaton.localhost"
HTTPS_PORT = int(os.environ.get("CHATON_DEMO_HTTPS_PORT", "8443"))
HTTP_PORT = int(os.environ.get("CHATON_DEMO_HTTP_PORT", "8080"))


def mirror() -> Path | None:
    value = os.environ.get("CHATON_ARTIFACT_MIRROR", "")
    return Path(value).resolve() if value else None


def unavailable_line(name: str, command: str, root: Path | None = None, provided: tuple = ()) -> str | None:
    """Why a service cannot be deployed here (a file neither in the mirror nor downloadable), or None.

    ``provided``: the pins (variable names) the demo replaces by files of its own, such as a PeerTube build.
    """
    from chaton import mirror as pins

    missing = [pin for pin in pins.unavailable(name, mirror(), root) if pin.variable not in provided]
    if not missing:
        return None
    return (
        f"SKIPPED {name}: its upstream file {missing[0].url} cannot be downloaded here; put it in a mirror "
        f"directory as <mirror>/{missing[0].path} (`chaton mirror fetch <mirror>` on a connected machine) "
        f"and run CHATON_ARTIFACT_MIRROR=<mirror> {command}"
    )


def peertube_test_build(path: str = "") -> dict:
    """Group variables pinning PeerTube to a build in the mirror (its SHA256SUMS line), or {} without one.

    ``path`` is the build inside the mirror; by default the newest ``test-builds/peertube-v*.tar.xz`` listed.
    """
    base = mirror()
    sums_file = base / "SHA256SUMS" if base else None
    if not sums_file or not sums_file.is_file():
        return {}
    sums = {}
    for line in sums_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(None, 1)
            sums[name.strip().lstrip("*")] = digest
    pattern = re.compile(r"(?:.*/)?peertube-v(\d+)\.(\d+)\.(\d+)\.tar\.xz")
    builds = sorted(
        (tuple(int(n) for n in m.groups()), name)
        for name in sums
        if (m := pattern.fullmatch(name)) and (path == name or (not path and name.startswith("test-builds/")))
    )
    if not builds or not (base / builds[-1][1]).is_file():
        return {}
    version, name = builds[-1]
    return {
        "peertube_version": ".".join(map(str, version)),
        "peertube_checksum": f"sha256:{sums[name]}",
        "peertube_mirror_path": name,
    }


def available_services(
    log, peertube_build: dict | None = None, command: str = "make demo", root: Path | None = None
) -> list[str]:
    """Services whose upstream artifacts can be had here; the others get one line saying why and how.

    ``peertube_build``: the mirror's PeerTube test build, which replaces the role's pinned release when there is one.
    ``root``: the tree whose roles are read (the checkout by default; the bench passes the tree it deployed).
    """
    chosen = []
    for name in specs.services(root):
        provided = ("peertube_url",) if name == "peertube" and peertube_build else ()
        line = unavailable_line(name, command, root, provided=provided)
        if line:
            log(line)
            continue
        chosen.append(name)
    return chosen


def ensure_container(release: str, log) -> None:
    engine.ensure_engine()
    image = images.build(release, log=log)
    state = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}}", CONTAINER], capture_output=True, text=True, check=False
    )
    if state.returncode == 0 and state.stdout.strip() == "true":
        log(f"reusing the running container {CONTAINER}")
        return
    if state.returncode == 0:
        subprocess.run(["docker", "rm", "-f", CONTAINER], check=True, capture_output=True)
    log(f"starting {CONTAINER} (Debian {release}, systemd) with HTTPS on 127.0.0.1:{HTTPS_PORT}")
    engine.run_systemd(
        CONTAINER, image, "demo", ["-p", f"127.0.0.1:{HTTPS_PORT}:443", "-p", f"127.0.0.1:{HTTP_PORT}:80"]
    )
    subprocess.run(
        ["docker", "exec", CONTAINER, "systemctl", "is-system-running", "--wait"],
        check=False,
        capture_output=True,
        timeout=120,
    )


def extra_ca_certificates() -> list[str]:
    """The CAs this machine trusts besides Debian's (a TLS-inspecting proxy's, for instance)."""
    return sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))


def write_inventory(directory: Path, services: list[str], overrides: dict | None = None) -> Path:
    hosts = {"chaton": {"hosts": {CONTAINER: {"ansible_connection": "community.docker.docker"}}}}
    group_vars = {
        "chaton_name": "Chatons de démonstration",
        "chaton_domain": DOMAIN,
        "chaton_admin_email": f"admin@{DOMAIN}",
        "chaton_tls": "selfsigned",
        # The demo container is reached with docker exec, not SSH.
        "common_allow_no_admin": True,
        # This machine reaches registries through a TLS-inspecting proxy: the
        # container trusts the same CAs (the "corporate proxy" option).
        "chaton_extra_ca_certificates": extra_ca_certificates(),
        # What `chaton status` and `chaton audit` connect to, and the port the
        # portal's links and the HTTP to HTTPS redirect keep.
        "chaton_status_address": "127.0.0.1",
        "chaton_public_https_port": HTTPS_PORT,
        **{f"{name}_enabled": True for name in services},
        **(overrides or {}),
    }
    if mirror():
        group_vars["chaton_artifact_mirror"] = str(mirror())
    (directory / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    (directory / "group_vars" / "all" / "demo.yml").write_text(
        "---\n# Written by `chaton demo`.\n" + yaml.safe_dump(group_vars, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return directory / "hosts.yml"


def _shown(path: Path) -> str:
    """A path as the volunteer types it: relative to the current directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def next_steps(directory: Path, services: list[str]) -> list[str]:
    """The commands the demo prints; each runs as printed (no prompt, no missing option)."""
    inv = shlex.quote(_shown(directory))
    own = "inventories/try"
    init = [
        "chaton",
        "init",
        own,
        "--connection",
        "docker",
        "--host",
        CONTAINER,
        "--name",
        "Mes Chatons",
        "--domain",
        DOMAIN,
        "--email",
        f"admin@{DOMAIN}",
        "--services",
        ",".join(services),
        "--tls",
        "selfsigned",
        *[arg for ca in extra_ca_certificates() for arg in ("--extra-ca", ca)],
    ]
    return [
        f"Check it again: chaton status {inv}",
        f"Audit it against the CHATONS charter: chaton audit {inv}",
        "To drive this container with an inventory of your own: " + shlex.join(init),
        f"  then: chaton check {own}; chaton deploy {own}; chaton status {own} --address 127.0.0.1 --port {HTTPS_PORT}",
    ]


def apply_container_quirks(inventory: Path) -> None:
    """The harness's container-only fixes (molecule/shared/tasks/container_quirks.yml), never part of the roles."""
    from chaton import runner

    result = runner.run_playbook("molecule/shared/quirks.yml", inventory, quiet=True)
    if not result.ok:
        raise RuntimeError(f"the container fixes could not be applied: {result.stdout[-2000:]}")


def demo_dir() -> Path:
    return project_root() / "demo"
