"""Every pinned checksum is the checksum of the file at its URL: compared with the test mirror's copies.

The test mirror (CHATON_ARTIFACT_MIRROR, else ../shared/mirror beside the clone) holds upstream files laid out
as their URLs' host/path; GitHub's archives there are byte-identical to GitHub's (see its README).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.request
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
            # An empty checksum counts too: the file is pinned by its signature (PeerTube's release).
            if key.endswith("_checksum") and (value or data.get(f"{key[:-9]}_url")):
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
    if not pin.checksum:
        # Pinned by upstream's signature instead: the role holds the release key's full fingerprint.
        defaults = yaml.safe_load((ROOT / "roles" / pin.role / "defaults" / "main.yml").read_text(encoding="utf-8"))
        fingerprint = str(defaults.get(f"{pin.variable[:-4]}_signing_fingerprint", ""))
        assert re.fullmatch("[0-9A-F]{40}", fingerprint), f"{pin.variable}: no checksum and no signing key"
        return
    algorithm, _, value = pin.checksum.partition(":")
    assert len(value) == mirror.ALGORITHMS.get(algorithm, -1) and re.fullmatch("[0-9a-f]+", value), pin.checksum


NPM = [pin for pin in ALL if pin.url.startswith("https://registry.npmjs.org/")]
# Each pin is checked one way: npm's against the registry's published integrity (below), a release pinned by its
# signature by its key (test_pin_is_well_formed), every other one against the test mirror's copy, which must hold it.
MIRRORED = [pin for pin in ALL if pin.checksum and pin not in NPM]


@pytest.mark.skipif(MIRROR is None, reason="no test mirror (CHATON_ARTIFACT_MIRROR, ../shared/mirror)")
@pytest.mark.parametrize("pin", MIRRORED, ids=lambda pin: f"{pin.role}:{pin.variable}")
def test_pin_equals_the_mirror_file(pin):
    path = MIRROR / pin.path
    assert path.is_file(), (
        f"{pin.path} is not in the test mirror {MIRROR}: its pin ({pin.role} {pin.variable}) goes unchecked"
    )
    assert mirror.digest(path, pin.algorithm) == pin.checksum, f"{pin.role} {pin.variable}: {pin.url}"


@pytest.mark.parametrize("pin", NPM, ids=lambda pin: f"{pin.role}:{pin.variable}")
def test_npm_pin_matches_the_registry_integrity(pin):
    """The npm registry publishes each tarball's sha512: a sha512 pin must be it; a sha256 pin must be the sha256 of
    the tarball whose sha512 it is."""
    match = re.fullmatch(r"https://registry\.npmjs\.org/(?P<name>[^/]+)/-/(?P=name)-(?P<version>[^/]+)\.tgz", pin.url)
    assert match, pin.url
    if not mirror.reachable("registry.npmjs.org"):
        pytest.skip("the npm registry is out of reach")
    meta_url = f"https://registry.npmjs.org/{match['name']}/{match['version']}"
    with urllib.request.urlopen(meta_url, timeout=30) as answer:
        integrity = json.load(answer)["dist"]["integrity"]
    published = mirror.integrity_to_checksum(integrity)
    if pin.algorithm == "sha512":
        assert pin.checksum == published, f"{pin.role} {pin.variable}: the registry says {integrity}"
        return
    with urllib.request.urlopen(pin.url, timeout=120) as answer:  # noqa: S310 - https, matched above
        data = answer.read()
    assert "sha512:" + hashlib.sha512(data).hexdigest() == published
    assert "sha256:" + hashlib.sha256(data).hexdigest() == pin.checksum, f"{pin.role} {pin.variable}: {pin.url}"
