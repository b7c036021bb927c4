"""A role whose defaults read the host-wide chaton_* settings must depend on the `chaton` role.

Those settings are the `chaton` role's defaults; a block included from another role (include_role) does not see
its caller's dependencies, so without its own dependency a real deploy stops at the block's argument validation
with "'chaton_secrets_dir' is undefined" (Molecule hides it: its inventory sets chaton_secrets_dir).
"""

from __future__ import annotations

import re

import pytest
import yaml

from chaton import project_root

ROLES = project_root() / "roles"
CHATON_DEFAULTS = set(yaml.safe_load((ROLES / "chaton" / "defaults" / "main.yml").read_text()) or {})
# A chaton_* default read without a `| default(...)` fallback.
BARE = re.compile(r"\b(chaton_[a-z0-9_]+)\b(?!\s*\|\s*default)")


def _roles_reading_chaton_defaults():
    for role in sorted(p for p in ROLES.iterdir() if (p / "defaults" / "main.yml").is_file()):
        if role.name == "chaton":
            continue
        names = set(BARE.findall((role / "defaults" / "main.yml").read_text())) & CHATON_DEFAULTS
        if names:
            yield pytest.param(role, sorted(names), id=role.name)


@pytest.mark.parametrize(("role", "names"), list(_roles_reading_chaton_defaults()), ids=str)
def test_role_reading_chaton_settings_depends_on_chaton(role, names):
    meta = yaml.safe_load((role / "meta" / "main.yml").read_text()) or {}
    deps = [d["role"] if isinstance(d, dict) else d for d in meta.get("dependencies") or []]
    assert "chaton" in deps, f"roles/{role.name} reads {names}: add `- role: chaton` to its meta dependencies"
