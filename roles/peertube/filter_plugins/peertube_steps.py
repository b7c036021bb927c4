"""What each PeerTube version step needs, and which jumps the peertube role refuses.

Used by the role's tasks (filters peertube_step_problems, peertube_step_notes and peertube_package_manager)
before anything is stopped or unpacked; tested directly by tests/test_peertube_steps.py.
"""

from __future__ import annotations

import base64
import re

# Newest major whose requirements the role knows: anything later is refused until its notes are read.
KNOWN_MAJOR = 9
# Oldest major from which the role carries every later step (one-off scripts, Node.js and PostgreSQL floors;
# PeerTube's own database migrations run in order from any older version at start): from it, a jump over majors
# (6.3 -> 8.x) is one converge; from an older one, the admin goes through the next major first.
OLDEST_MAJOR = 6

# Requirements from upstream's IMPORTANT NOTES (CHANGELOG.md), by the first version that has them.
NODE_FLOOR = ((8, 2), 22)  # 8.2.0 removed Node.js 20 support (>= 22.12)
NODE_MAJORS_9 = (22, 24)  # 9.0.0: Node.js >= 22.22 < 23 or >= 24 < 25
POSTGRESQL_FLOOR = ((8, 3), 14)  # 8.3.0: PostgreSQL >= 14
# Upstream's one-off scripts (dist/scripts/migrations/ of the release), run once the server has migrated its
# database: 6.3 and 7.2 recount, 8.0 deletes orphan actors (it refuses to run before the 8.0 SQL migrations).
MIGRATION_SCRIPTS = {
    (6, 3): "peertube-6.3.js",
    (7, 2): "peertube-7.2.js",
    (8, 0): "peertube-8.0.js",
    (8, 1): "peertube-8.1.js",
    (8, 3): "peertube-8.3.js",
}


def _version(text) -> tuple[int, int, int]:
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", str(text).strip())
    if not match:
        raise ValueError(f"not a PeerTube release version: {text!r}")
    return tuple(int(part) for part in match.groups())


def _crosses(current, target, step) -> bool:
    """True when going from current (None: new install) to target passes the version step."""
    return target[:2] >= step and (current is None or current[:2] < step)


def peertube_step_problems(current, target, postgresql_major=None, nodejs_major=None) -> list[str]:
    """Why the jump from current (empty: new install) to target cannot be made by the role; [] when it can."""
    target_v = _version(target)
    current_v = _version(current) if current else None
    problems = []
    if current_v and target_v < current_v:
        problems.append(
            f"PeerTube {current} is installed and peertube_version asks for {target}: downgrades are not supported "
            "(the database has already been migrated). Set peertube_version to "
            f"{current} or later, or restore a backup taken before {current}."
        )
    if current_v and target_v[0] > current_v[0] + 1 and current_v[0] < OLDEST_MAJOR:
        problems.append(
            f"PeerTube {current} to {target} skips major version {current_v[0] + 1}, and the role knows upstream's "
            f"steps from {OLDEST_MAJOR}.0 on only: upgrade to the last {current_v[0] + 1}.x release first (converge "
            f"once with it, following upstream's IMPORTANT NOTES), then to {target}."
        )
    if target_v[0] > KNOWN_MAJOR:
        problems.append(
            f"PeerTube {target} is a major version this role does not know yet (it knows up to {KNOWN_MAJOR}.x): "
            "read upstream's IMPORTANT NOTES for it and teach the role its requirements before pinning it."
        )
    pg_step, pg_floor = POSTGRESQL_FLOOR
    if postgresql_major and target_v[:2] >= pg_step and int(postgresql_major) < pg_floor:
        problems.append(
            f"PeerTube {target} needs PostgreSQL >= {pg_floor} (from {pg_step[0]}.{pg_step[1]}); this host runs "
            f"PostgreSQL {postgresql_major}: upgrade PostgreSQL first (Debian 12 ships 15), "
            f"or stay on PeerTube {pg_step[0]}.{pg_step[1] - 1}.x."
        )
    if nodejs_major:
        node = int(nodejs_major)
        node_step, node_floor = NODE_FLOOR
        if target_v[0] >= 9 and node not in NODE_MAJORS_9:
            problems.append(
                f"PeerTube {target} runs on Node.js 22 (>= 22.22) or 24 only; peertube_nodejs_major is {node}: "
                "set it to 24."
            )
        elif target_v[:2] >= node_step and node < node_floor:
            problems.append(
                f"PeerTube {target} needs Node.js >= {node_floor} (from {node_step[0]}.{node_step[1]}); "
                f"peertube_nodejs_major is {node}: set it to 24."
            )
    return problems


def peertube_step_notes(current, target) -> list[str]:
    """Upstream's one-off steps the jump passes (migration scripts to run once the server has migrated)."""
    target_v = _version(target)
    current_v = _version(current) if current else None
    if current_v is None:
        return []
    return [script for step, script in sorted(MIGRATION_SCRIPTS.items()) if _crosses(current_v, target_v, step)]


def peertube_package_manager(package_json) -> dict:
    """The package manager a release declares: {'name', 'version', 'sha512'} from packageManager (Corepack's
    "pnpm@10.15.1+sha512.<hex>"); name '' when the field is absent (yarn.lock releases)."""
    field = (package_json or {}).get("packageManager") or ""
    match = re.fullmatch(r"(pnpm|yarn|npm)@(\d+\.\d+\.\d+)(?:\+sha512\.([0-9a-f]{128}))?", field.strip())
    if not match:
        if field:
            raise ValueError(f"unreadable packageManager in package.json: {field!r}")
        return {"name": "", "version": "", "sha512": ""}
    name, version, sha512 = match.groups()
    return {"name": name, "version": version, "sha512": sha512 or ""}


def peertube_sri_hex(integrity) -> str:
    """The hex digest of an npm registry integrity string ("sha512-<base64>")."""
    algorithm, _, digest = str(integrity).strip().partition("-")
    if algorithm != "sha512" or not digest:
        raise ValueError(f"not a sha512 integrity: {integrity!r}")
    return base64.b64decode(digest, validate=True).hex()


class FilterModule:
    def filters(self):
        return {
            "peertube_step_problems": peertube_step_problems,
            "peertube_step_notes": peertube_step_notes,
            "peertube_package_manager": peertube_package_manager,
            "peertube_sri_hex": peertube_sri_hex,
        }
