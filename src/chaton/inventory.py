"""Read an inventory the way a volunteer wrote it, remembering where each variable was set."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml


class InventoryError(Exception):
    def __init__(self, file: Path, message: str, fix: str):
        super().__init__(f"{file}: {message}")
        self.file, self.message, self.fix = file, message, fix


@dataclass
class Host:
    name: str
    vars: dict = field(default_factory=dict)
    origin: dict[str, Path] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return str(self.vars.get("ansible_host", self.name))


@dataclass
class Inventory:
    path: Path
    hosts: dict[str, Host]
    encrypted: list[Path] = field(default_factory=list)

    @property
    def directory(self) -> Path:
        return self.path if self.path.is_dir() else self.path.parent

    @property
    def chaton_hosts(self) -> dict[str, Host]:
        """The CHATONS hosts: those of the group chaton (or of a group under it), where site.yml and every
        playbook run; an inventory may list others (a backup server)."""
        return {name: host for name, host in self.hosts.items() if "chaton" in host.groups}


def _load_yaml(path: Path) -> dict | None:
    text = path.read_text(encoding="utf-8")
    if text.startswith("$ANSIBLE_VAULT"):
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InventoryError(path, f"is not valid YAML{where}", "fix the indentation or quoting there") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise not_a_mapping(path, data)
    return data


def not_a_mapping(path: Path, data: object) -> InventoryError:
    """A variables file whose top level is not a mapping (also what site.yml says: plugins/vars)."""
    kinds = ((list, "list"), (str, "string"), (bool, "boolean"), (int, "number"), (float, "number"))
    kind = next((name for base, name in kinds if isinstance(data, base)), type(data).__name__)
    return InventoryError(path, f"holds a {kind}, not a mapping of variables", "write one 'variable: value' per line")


def _var_files(base: Path, name: str) -> list[Path]:
    files = []
    for candidate in (base / f"{name}.yml", base / f"{name}.yaml", base / name):
        if candidate.is_file():
            files.append(candidate)
        elif candidate.is_dir():
            files += sorted(p for p in candidate.rglob("*") if p.suffix in {".yml", ".yaml"} and p.is_file())
    return files


def _collect_hosts(group: dict, groups: list[str], out: dict[str, tuple[dict, list[str]]], name: str) -> None:
    """Each host of ``group`` (named ``name``, under the groups ``groups``) and of its children, with its
    variables and every group it is in, parents first (the order Ansible layers group_vars in)."""
    group = group or {}
    path = [*groups, name]
    for host, hvars in (group.get("hosts") or {}).items():
        prev = out.get(host, ({}, []))
        out[host] = ({**prev[0], **(hvars or {})}, [*prev[1], *(g for g in path if g not in prev[1])])
    for child, data in (group.get("children") or {}).items():
        _collect_hosts(data if isinstance(data, dict) else {}, path, out, child)


def load(path: Path) -> Inventory:
    path = Path(path)
    hosts_file = path / "hosts.yml" if path.is_dir() else path
    if not hosts_file.is_file():
        raise InventoryError(
            hosts_file,
            "is not an inventory (no such file)" if not path.exists() else "does not exist",
            "give the inventory's directory, the one holding hosts.yml (inventories/mine, demo/inventory), "
            "or create one with `chaton init`",
        )
    data = _load_yaml(hosts_file) or {}
    found: dict[str, tuple[dict, list[str]]] = {}
    for group, content in data.items():
        if not isinstance(content, dict):
            raise InventoryError(hosts_file, f"group '{group}' is not a mapping", "see inventories/example/hosts.yml")
        _collect_hosts(content, [], found, group)
    if not found:
        raise InventoryError(hosts_file, "lists no host", "add your server under chaton: hosts:")
    base = hosts_file.parent
    inv = Inventory(path=hosts_file, hosts={})
    for host, (hvars, groups) in found.items():
        merged: dict = {}
        origin: dict[str, Path] = {}
        layers = [("group_vars", "all")] + [("group_vars", g) for g in groups if g != "all"] + [("host_vars", host)]
        for kind, name in layers:
            for file in _var_files(base / kind, name):
                content = _load_yaml(file)
                if content is None:
                    if file not in inv.encrypted:
                        inv.encrypted.append(file)
                    continue
                for key, value in content.items():
                    merged[key] = value
                    origin[key] = file
        for key, value in hvars.items():
            merged[key] = value
            origin[key] = hosts_file
        inv.hosts[host] = Host(host, merged, origin, groups)
    return inv
