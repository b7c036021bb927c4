"""The upstream files the roles download, derived from the roles themselves, and a mirror of them.

A pin is a ``<name>_url`` / ``<name>_checksum`` pair of a role's ``defaults/main.yml`` (or an item of a list of
``{url, checksum}`` mappings, such as Framadate's libraries), rendered with the role's defaults and the inventory's
values. A mirror is a copy of the URLs' host and path (``https://github.com/a/b.tar.gz`` is at
``<mirror>/github.com/a/b.tar.gz``), which the ``artifact`` building block reads through
``chaton_artifact_mirror``. Nothing here lists files by hand: a pin added to a role is in the mirror.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
import yaml

from chaton import project_root, specs

INCLUDE_KEYS = ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role")
ALGORITHMS = {"sha256": 64, "sha512": 128}


@dataclass(frozen=True)
class Pin:
    """One pinned upstream file: where a role downloads it and the checksum it must have."""

    role: str
    variable: str
    url: str
    checksum: str
    mirror_path: str = ""

    @property
    def path(self) -> str:
        """Where the file is in a mirror: the URL's host and path unless the role says otherwise."""
        if self.mirror_path:
            return self.mirror_path.lstrip("/")
        parts = urllib.parse.urlsplit(self.url)
        return f"{parts.hostname}{parts.path}"

    @property
    def algorithm(self) -> str:
        """The pin's hash; sha256 for a file pinned by its signature alone (no checksum)."""
        return self.checksum.split(":", 1)[0] if self.checksum else "sha256"

    def accepts(self, actual: str) -> bool:
        """Whether a file of this checksum is the pinned one (any file when the host checks a signature instead)."""
        return not self.checksum or actual == self.checksum


def digest(path: Path, algorithm: str = "sha256") -> str:
    """``<algorithm>:<hex>`` of a file."""
    h = hashlib.new(algorithm)
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            h.update(block)
    return f"{algorithm}:{h.hexdigest()}"


def integrity_to_checksum(integrity: str) -> str:
    """The npm registry's ``dist.integrity`` (``sha512-<base64>``) as a pin (``sha512:<hex>``)."""
    algorithm, _, value = integrity.partition("-")
    return f"{algorithm}:{base64.b64decode(value).hex()}"


def _defaults(role: str, root: Path) -> dict:
    path = root / "roles" / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def _render(value, context: dict):
    """A defaults value rendered as Ansible would (strings with ``{{ }}``, recursively)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - not HTML
    for _ in range(5):
        if isinstance(value, str) and "{{" in value:
            value = env.from_string(value).render(context)
        elif isinstance(value, dict):
            return {k: _render(v, context) for k, v in value.items()}
        elif isinstance(value, list):
            return [_render(v, context) for v in value]
        else:
            return value
    return value


def role_pins(role: str, overrides: dict | None = None, root: Path | None = None) -> list[Pin]:
    """Every pinned file of one role, its URLs rendered with the role's defaults and ``overrides``."""
    root = root or project_root()
    defaults = _defaults(role, root)
    context = {**defaults, **(overrides or {})}
    pins = []
    for key in defaults:
        if key.endswith("_url") and f"{key[:-4]}_checksum" in defaults:
            stem = key[:-4]
            url = _render(context[key], context)
            if not url:
                continue
            pins.append(
                Pin(
                    role,
                    key,
                    url,
                    _render(context[f"{stem}_checksum"], context),
                    _render(context.get(f"{stem}_mirror_path", ""), context),
                )
            )
        elif isinstance(defaults[key], list):
            items = _render(context[key], context)
            for index, item in enumerate(items or []):
                if isinstance(item, dict) and item.get("url") and item.get("checksum"):
                    where = f"{key}[{index}]"
                    pins.append(Pin(role, where, item["url"], item["checksum"], item.get("mirror_path", "")))
    return pins


def _includes(node) -> Iterable[tuple[str, dict]]:
    """(role, vars) of every include_role/import_role in a tasks file, blocks included."""
    if isinstance(node, list):
        for item in node:
            yield from _includes(item)
    elif isinstance(node, dict):
        for key in INCLUDE_KEYS:
            if isinstance(node.get(key), dict) and node[key].get("name"):
                yield node[key]["name"], node.get("vars") or {}
        for value in node.values():
            if isinstance(value, list | dict):
                yield from _includes(value)


@cache
def _role_includes(role: str, root: Path) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    found = []
    for tasks in sorted((root / "roles" / role / "tasks").glob("*.yml")):
        data = yaml.safe_load(tasks.read_text(encoding="utf-8"))
        for name, variables in _includes(data):
            if "{{" not in name:
                found.append((name, tuple((k, str(v)) for k, v in variables.items())))
    return tuple(found)


def needed_roles(service: str, root: Path | None = None) -> list[str]:
    """The service role and every role it includes (transitively) whose pins it downloads.

    A building block included with ``<block>_install_method: debian`` takes Debian's package, not its pinned
    file (EtherCalc's Node.js)."""
    root = root or project_root()
    seen = [service]
    queue = [service]
    while queue:
        for name, variables in _role_includes(queue.pop(0), root):
            if dict(variables).get(f"{name}_install_method") == "debian" or name in seen:
                continue
            seen.append(name)
            queue.append(name)
    return seen


def pins(services: Iterable[str] | None = None, overrides: dict | None = None, root: Path | None = None) -> list[Pin]:
    """Every file the services need (all services when None), without duplicates, in a stable order."""
    root = root or project_root()
    chosen = list(specs.services(root)) if services is None else list(services)
    found: dict[str, Pin] = {}
    for service in chosen:
        for role in needed_roles(service, root):
            for pin in role_pins(role, overrides, root):
                found.setdefault(pin.path, pin)
    return list(found.values())


def inventory_pins(inventory_path: Path, root: Path | None = None) -> list[Pin]:
    """The files the inventory's enabled services need, with its own versions and checksums."""
    from chaton import checks, inventory

    inv = inventory.load(inventory_path)
    found: dict[str, Pin] = {}
    for host in inv.chaton_hosts.values():
        for pin in pins(checks.enabled_services(host), host.vars, root):
            found.setdefault(pin.path, pin)
    return list(found.values())


# --- a mirror directory ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    pin: Pin
    state: str  # present, missing, wrong
    actual: str = ""

    def line(self) -> str:
        if self.state == "present" and not self.pin.checksum:
            return f"present  {self.pin.path} (no checksum pinned: the host verifies its signature, {self.actual})"
        if self.state == "present":
            return f"present  {self.pin.path}"
        if self.state == "missing":
            return f"missing  {self.pin.path} (from {self.pin.url}, {self.pin.role}: {self.pin.variable})"
        return (
            f"wrong    {self.pin.path}: expected {self.pin.checksum}, actual {self.actual} "
            f"(a wrong or truncated file: delete it and run `chaton mirror fetch` again)"
        )


def check(directory: Path, wanted: list[Pin]) -> list[Status]:
    """Per file: present (with the pinned checksum), missing, or wrong (with the actual checksum)."""
    out = []
    for pin in wanted:
        path = Path(directory) / pin.path
        if not path.is_file():
            out.append(Status(pin, "missing"))
            continue
        actual = digest(path, pin.algorithm)
        out.append(Status(pin, "present" if pin.accepts(actual) else "wrong", actual))
    return out


def download(pin: Pin, target: Path, timeout: int = 60) -> str:
    """Download a pin to ``target`` through a temporary file; its actual checksum (kept only when it matches)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".partial-", delete=False) as tmp:
        try:
            with urllib.request.urlopen(pin.url, timeout=timeout) as response:  # noqa: S310 - pinned https URLs
                shutil.copyfileobj(response, tmp)
            tmp.close()
            actual = digest(Path(tmp.name), pin.algorithm)
            if pin.accepts(actual):
                os.chmod(tmp.name, 0o644)
                os.replace(tmp.name, target)
            return actual
        finally:
            if Path(tmp.name).exists():
                os.unlink(tmp.name)


def write_sums(directory: Path) -> Path:
    """SHA256SUMS of every file in the mirror (``sha256sum -c`` reads it)."""
    directory = Path(directory)
    lines = [
        f"{digest(path).split(':', 1)[1]}  {path.relative_to(directory).as_posix()}"
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != "SHA256SUMS" and not path.name.startswith(".partial-")
    ]
    sums = directory / "SHA256SUMS"
    sums.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return sums


def fetch(directory: Path, wanted: list[Pin], log=print) -> list[Status]:
    """Download every missing or wrong file into the mirror, verified; the final state of each."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for status in check(directory, wanted):
        if status.state == "present":
            log(status.line())
            out.append(status)
            continue
        try:
            actual = download(status.pin, directory / status.pin.path)
        except (urllib.error.URLError, OSError) as exc:
            log(f"missing  {status.pin.path}: could not download {status.pin.url}: {exc}")
            out.append(Status(status.pin, "missing"))
            continue
        result = Status(status.pin, "present" if status.pin.accepts(actual) else "wrong", actual)
        log(("fetched  " + status.pin.path) if result.state == "present" else result.line())
        out.append(result)
    write_sums(directory)
    return out


# --- what a partial mirror leaves to upstream --------------------------------------------------------------------


@cache
def reachable(host: str, timeout: float = 10) -> bool:
    """Whether https://<host>/ answers from here (any HTTP status counts)."""
    try:
        urllib.request.urlopen(urllib.request.Request(f"https://{host}/", method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
    return True


def unavailable(service: str, mirror: Path | None, root: Path | None = None) -> list[Pin]:
    """The service's files that are neither in the mirror directory nor downloadable from here."""
    return [
        pin
        for pin in pins([service], root=root)
        if not (mirror and (Path(mirror) / pin.path).is_file())
        and not reachable(urllib.parse.urlsplit(pin.url).hostname or "")
    ]
