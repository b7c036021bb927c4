"""Install the Ansible collections listed in requirements.yml.

The normal way is Ansible Galaxy. Where Galaxy cannot be reached (air-gapped
hosts, CI behind a registry proxy), the same collections are taken from the
``ansible`` community package on PyPI, whose wheel carries every collection of
the Ansible bundle: only the collections requirements.yml lists are extracted,
and each one's version is checked against the range requirements.yml gives.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

# The Ansible bundle whose collections match ansible-core 2.19 (Python 3.11).
ANSIBLE_BUNDLE = "ansible==12.3.0"


@dataclass(frozen=True)
class Requirement:
    name: str
    spec: SpecifierSet

    @property
    def path(self) -> Path:
        namespace, collection = self.name.split(".", 1)
        return Path("ansible_collections") / namespace / collection


def read_requirements(path: Path) -> list[Requirement]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for item in data.get("collections", []):
        if isinstance(item, str):
            item = {"name": item}
        out.append(Requirement(item["name"], SpecifierSet(str(item.get("version", "")).replace("*", ""))))
    return out


def installed_version(dest: Path, req: Requirement) -> Version | None:
    manifest = dest / req.path / "MANIFEST.json"
    if not manifest.is_file():
        return None
    info = json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]
    return Version(info["version"])


def missing(dest: Path, reqs: list[Requirement]) -> list[Requirement]:
    out = []
    for req in reqs:
        version = installed_version(dest, req)
        if version is None or version not in req.spec:
            out.append(req)
    return out


def _galaxy(requirements: Path, dest: Path, timeout: int) -> bool:
    galaxy = shutil.which("ansible-galaxy") or str(Path(sys.executable).parent / "ansible-galaxy")
    try:
        result = subprocess.run(
            [galaxy, "collection", "install", "-r", str(requirements), "-p", str(dest), "--timeout", "20"],
            timeout=timeout,
            check=False,
            capture_output=True,
            text=True,
        )
    except (subprocess.TimeoutExpired, FileNotFoundError):
        return False
    return result.returncode == 0


def _from_pypi(reqs: list[Requirement], dest: Path, cache: Path, log) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("ansible-*.whl"))
    wanted = ANSIBLE_BUNDLE.split("==")[1]
    wheels = [w for w in wheels if w.name.startswith(f"ansible-{wanted}-")]
    if not wheels:
        log(f"downloading the {ANSIBLE_BUNDLE} wheel from PyPI (its collections replace Galaxy)")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "-q",
                "-d",
                str(cache),
                ANSIBLE_BUNDLE,
            ],
            check=True,
        )
        wheels = sorted(cache.glob(f"ansible-{wanted}-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel, tempfile.TemporaryDirectory(dir=dest) as tmp:
        names = wheel.namelist()
        for req in reqs:
            prefix = req.path.as_posix() + "/"
            members = [n for n in names if n.startswith(prefix)]
            if not members:
                raise SystemExit(f"{req.name} is not in {ANSIBLE_BUNDLE}: install it with ansible-galaxy")
            wheel.extractall(tmp, members)
            manifest = json.loads((Path(tmp) / req.path / "MANIFEST.json").read_text(encoding="utf-8"))
            version = Version(manifest["collection_info"]["version"])
            if version not in req.spec:
                raise SystemExit(
                    f"{ANSIBLE_BUNDLE} carries {req.name} {version}, outside requirements.yml's '{req.spec}'"
                )
            target = dest / req.path
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(Path(tmp) / req.path), target)
            log(f"  {req.name} {version}")


def install(requirements: Path, dest: Path, cache: Path, *, try_galaxy: bool = True, log=print) -> None:
    reqs = read_requirements(requirements)
    dest.mkdir(parents=True, exist_ok=True)
    todo = missing(dest, reqs)
    if not todo:
        log(f"collections up to date in {dest}")
        return
    if try_galaxy and _galaxy(requirements, dest, timeout=60) and not missing(dest, reqs):
        log("collections installed from Ansible Galaxy")
        return
    log("Ansible Galaxy is out of reach: taking the collections from PyPI")
    _from_pypi(missing(dest, reqs), dest, cache, log)
