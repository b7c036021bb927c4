"""Every pinned checksum is the checksum of the file at its URL: compared with the test mirror's copies.

The test mirror (CHATON_ARTIFACT_MIRROR, else ../shared/mirror beside the clone) holds upstream files laid out
as their URLs' host/path; GitHub's archives there are byte-identical to GitHub's (see its README).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from chaton import mirror, project_root

ROOT = project_root()


def find_test_mirror() -> Path | None:
    value = os.environ.get("CHATON_ARTIFACT_MIRROR") or str(ROOT.parent / "shared" / "mirror")
    path = Path(value)
    return path if path.is_dir() else None


MIRROR = find_test_mirror()
ALL = [pin for role in sorted(p.name for p in (ROOT / "roles").iterdir()) for pin in mirror.role_pins(role)]


def test_every_url_and_checksum_pair_of_the_roles_is_a_pin():
    """Read the defaults files on their own: no pair (nor list of {url, checksum}) escapes chaton.mirror."""
    found = 0
    for defaults in sorted((ROOT / "roles").glob("*/defaults/main.yml")):
        role = defaults.parent.parent.name
        data = yaml.safe_load(defaults.read_text(encoding="utf-8")) or {}
        variables = {pin.variable for pin in ALL if pin.role == role}
        for key, value in data.items():
            if key.endswith("_checksum") and value:
                assert f"{key[:-9]}_url" in variables, f"{role}: {key} has no pinned {key[:-9]}_url"
                found += 1
            if isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, dict) and "checksum" in item:
                        assert f"{key}[{index}]" in variables, f"{role}: {key}[{index}] is not a pin"
                        found += 1
    assert found == len(ALL)
    assert found >= 10


@pytest.mark.parametrize("pin", ALL, ids=lambda pin: f"{pin.role}:{pin.variable}")
def test_pin_is_well_formed(pin):
    assert re.fullmatch(r"https://[a-z0-9.-]+/\S+", pin.url), pin.url
    assert "{{" not in pin.url and "{{" not in pin.checksum
    algorithm, _, value = pin.checksum.partition(":")
    assert len(value) == mirror.ALGORITHMS.get(algorithm, -1) and re.fullmatch("[0-9a-f]+", value), pin.checksum


@pytest.mark.skipif(MIRROR is None, reason="no test mirror (CHATON_ARTIFACT_MIRROR, ../shared/mirror)")
@pytest.mark.parametrize("pin", ALL, ids=lambda pin: f"{pin.role}:{pin.variable}")
def test_pin_equals_the_mirror_file(pin):
    path = MIRROR / pin.path
    if not path.is_file():
        pytest.skip(f"{pin.path} is not in the test mirror")
    assert mirror.digest(path, pin.algorithm) == pin.checksum, f"{pin.role} {pin.variable}: {pin.url}"


@pytest.mark.skipif(MIRROR is None, reason="no test mirror (CHATON_ARTIFACT_MIRROR, ../shared/mirror)")
def test_the_mirror_holds_the_github_pins():
    """GitHub is out of reach here: its archives must all be in the test mirror, or their pins go unchecked."""
    github = [pin for pin in ALL if pin.url.startswith("https://github.com/") and "/releases/download/" not in pin.url]
    assert github
    missing = [pin.path for pin in github if not (MIRROR / pin.path).is_file()]
    assert not missing, f"not in the test mirror {MIRROR}: {missing}"
