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


def chaton_inventory_problems(hostvars, hostname, inventory_dir=""):
    """One line per refusal (file, variable, problem, fix) for this host's inventory variables."""
    values = {}
    for key in list(hostvars.keys()):
        if key.startswith(MAGIC) or key in OWN:
            continue
        try:
            values[key] = hostvars[key]
        except Exception:  # noqa: S112 - a value that cannot be rendered is left to the roles' own checks
            continue
    return _checks().gate(values, str(hostname), str(inventory_dir or ""))


class FilterModule:
    def filters(self):
        return {"chaton_inventory_problems": chaton_inventory_problems}
