"""The inventory gate site.yml shares with `chaton check`: the same Python checks, the same messages."""

from __future__ import annotations

import sys
from pathlib import Path

# Variables Ansible itself sets for every host; never the volunteer's.
MAGIC = ("inventory_", "group_names", "groups", "omit", "playbook_dir", "play_hosts", "role_")
# Set by the gate itself once it has passed (roles/chaton/tasks/validate.yml).
OWN = ("chaton_inventory_checked",)


def _checks():
    try:
        from chaton import checks
    except ImportError:  # ansible-playbook run outside chaton's virtualenv: use the repository's copy
        sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
        from chaton import checks
    return checks


def _origin(value):
    """Where Ansible read a value (its data tag): a file path, a description such as "<CLI option '-e'>", or None."""
    try:
        from ansible._internal._datatag._tags import Origin
    except ImportError:  # an ansible-core without data tags: every value counts as the inventory's
        return None
    return Origin.get_tag(value)


def _inventory_file(value, inventory_dir: str) -> str | None:
    """The inventory's file a value was read from; "" when untagged; None when it is not the inventory's.

    Values Ansible tags with their origin (strings, lists, mappings) count when read from a file of the inventory's
    folder, not when they are extra variables (-e) or facts set by a play; untagged ones (booleans, numbers read from
    YAML) are checked as the inventory's.
    """
    origin = _origin(value)
    if origin is None:
        return ""
    path = getattr(origin, "path", None)
    if not path or not inventory_dir or not Path(path).resolve().is_relative_to(Path(inventory_dir).resolve()):
        return None
    return str(path)


def chaton_inventory_problems(hostvars, hostname, inventory_dir=""):
    """One line per refusal (file, variable, problem, fix) for this host's inventory variables.

    Extra variables (`ansible-playbook -e`, the chaton command's own, which are strings) and facts set by earlier
    plays are the operator's or the playbook's, not the inventory's: the inventory alone is held to chaton check.
    """
    values = {}
    origins = {}
    for key in list(hostvars.keys()):
        if key.startswith(MAGIC) or key in OWN:
            continue
        try:
            value = hostvars[key]
        except Exception:  # noqa: S112 - a value that cannot be rendered is left to the roles' own checks
            continue
        source = _inventory_file(value, str(inventory_dir or ""))
        if source is None:
            continue
        values[key] = value
        if source:
            origins[key] = source
    return _checks().gate(values, str(hostname), str(inventory_dir or ""), origins)


class FilterModule:
    def filters(self):
        return {"chaton_inventory_problems": chaton_inventory_problems}
