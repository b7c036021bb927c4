"""The roles' own meta/argument_specs.yml, read as the one schema of an inventory.

Nothing here restates a variable: names, types, choices and secrets (``no_log``)
come from the roles, and service facts (name, health endpoint, resource needs)
from each service role's ``meta/chaton.yml``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from chaton import project_root

# Roles every host runs, in site.yml's order.
BASE_ROLES = ["chaton", "common", "proxy", "backup"]


@dataclass(frozen=True)
class Service:
    """A service role, described by its meta/chaton.yml."""

    name: str
    title: str
    subdomain: str
    domain_var: str
    health_path: str
    health_expect: str
    memory_mb: int
    disk_mb: int
    version_var: str = ""
    version_path: str = ""
    version_regex: str = ""
    credentials: tuple[str, ...] = ()


@dataclass
class RoleSpec:
    name: str
    options: dict[str, dict] = field(default_factory=dict)

    @property
    def secrets(self) -> list[str]:
        return sorted(k for k, v in self.options.items() if v.get("no_log"))


def roles_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "roles"


@cache
def load_role(name: str, root: Path | None = None) -> RoleSpec:
    path = roles_dir(root) / name / "meta" / "argument_specs.yml"
    if not path.is_file():
        return RoleSpec(name)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    options = ((data.get("argument_specs") or {}).get("main") or {}).get("options") or {}
    return RoleSpec(name, dict(options))


@cache
def services(root: Path | None = None) -> dict[str, Service]:
    found = {}
    for meta in sorted(roles_dir(root).glob("*/meta/chaton.yml")):
        data = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
        svc = data.get("chaton_service")
        if not svc:
            continue
        name = meta.parent.parent.name
        found[name] = Service(
            name=name,
            title=svc.get("title", name),
            subdomain=svc.get("subdomain", name),
            domain_var=svc.get("domain_var", f"{name}_domain"),
            health_path=svc.get("health_path", "/"),
            health_expect=svc.get("health_expect", ""),
            memory_mb=int(svc.get("memory_mb", 256)),
            disk_mb=int(svc.get("disk_mb", 512)),
            version_var=svc.get("version_var", ""),
            version_path=svc.get("version_path", ""),
            version_regex=svc.get("version_regex", ""),
            credentials=tuple(svc.get("credentials", [])),
        )
    return found


@cache
def base_needs(root: Path | None = None) -> dict[str, int]:
    """Memory and disk the base host needs (Debian, nginx, fail2ban...), from roles/common/meta/chaton.yml."""
    meta = roles_dir(root) / "common" / "meta" / "chaton.yml"
    data = (yaml.safe_load(meta.read_text(encoding="utf-8")) or {}) if meta.is_file() else {}
    base = data.get("chaton_base") or {}
    return {"memory_mb": int(base.get("memory_mb", 350)), "disk_mb": int(base.get("disk_mb", 3000))}


def all_roles(root: Path | None = None) -> list[str]:
    """Every role with argument_specs: base roles first, then services, then building blocks."""
    present = sorted(p.parent.parent.name for p in roles_dir(root).glob("*/meta/argument_specs.yml"))
    ordered = BASE_ROLES + [s for s in services(root) if s not in BASE_ROLES]
    return ordered + [r for r in present if r not in ordered]


def known_options(root: Path | None = None) -> dict[str, str]:
    """Every public variable -> the role declaring it."""
    out: dict[str, str] = {}
    for name in all_roles(root):
        for option in load_role(name, root).options:
            out.setdefault(option, name)
    return out


def suggest(name: str, candidates: list[str]) -> str | None:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return close[0] if close else None


_TYPES = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "list": {"type": "array"},
    "dict": {"type": "object"},
    "path": {"type": "string"},
    "raw": {},
}


# argument_specs has no ranges; a role's port settings are named <...>_port (an int) or <...>_ports_<kind> (a
# list of ints), and roles/chaton/tasks/validate.yml holds them to the same range at play time.
PORT_NAME = re.compile(r"_port$")
PORTS_NAME = re.compile(r"_ports_[a-z]+$")
PORT_RANGE = {"minimum": 1, "maximum": 65535}


def option_schema(spec: dict, name: str = "") -> dict:
    """JSON Schema of one argument_specs option (types, choices, elements, sub-options, port ranges by name)."""
    schema = dict(_TYPES.get(spec.get("type", "raw"), {}))
    if spec.get("type") == "int" and PORT_NAME.search(name):
        schema.update(PORT_RANGE)
    if "choices" in spec:
        schema["enum"] = list(spec["choices"])
    if spec.get("type") == "list" and "elements" in spec:
        item = {"type": spec["elements"], **({"options": spec["options"]} if "options" in spec else {})}
        schema["items"] = option_schema(item, "_port" if PORTS_NAME.search(name) else "")
    if spec.get("type") == "dict" and "options" in spec:
        schema["properties"] = {k: option_schema(v, k) for k, v in spec["options"].items()}
        schema["required"] = [k for k, v in spec["options"].items() if v.get("required")]
    return schema
