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


def _plays_including_roles():
    for playbook in sorted((project_root() / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(playbook.read_text()) or []:
            if "hosts" not in play:
                continue
            tasks = [t for key in ("pre_tasks", "tasks", "post_tasks") for t in play.get(key) or []]
            # Whole roles (a `tasks_from: validate` only checks, as playbooks/validate.yml does).
            included = {
                t["ansible.builtin.include_role"]["name"]
                for t in tasks
                if "tasks_from" not in t.get("ansible.builtin.include_role", {"tasks_from": None})
            }
            # The service roles include building blocks in turn (databases, Redis, the proxy's site).
            if included & {"ethercalc", "etherpad", "framadate", "peertube"}:
                yield pytest.param(playbook, play, id=f"{playbook.name}:{play['name']}")


@pytest.mark.parametrize(("playbook", "play"), list(_plays_including_roles()))
def test_play_including_services_lists_the_chaton_role(playbook, play):
    """A block a service includes does not see the service's own dependencies: the play gives chaton's defaults.

    Without it a deploy with an inventory that leaves chaton_secrets_dir to its default stopped at Framadate's and
    PeerTube's database blocks ("'chaton_secrets_dir' is undefined").
    """
    roles = [r["role"] if isinstance(r, dict) else r for r in play.get("roles") or []]
    assert "chaton" in roles, f"{playbook.name}: play {play['name']!r} needs `roles: [{{role: chaton}}]`"
