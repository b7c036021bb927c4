from pathlib import Path

from conftest import ROOT

from chaton import collections as colls


def test_requirements_are_read_with_their_ranges():
    reqs = {r.name: r for r in colls.read_requirements(ROOT / "requirements.yml")}
    assert "community.crypto" in reqs
    assert "3.0.5" in reqs["community.crypto"].spec
    assert "2.9.0" not in reqs["community.crypto"].spec


def test_installed_collections_satisfy_requirements():
    reqs = colls.read_requirements(ROOT / "requirements.yml")
    assert colls.missing(ROOT / ".collections", reqs) == []


def test_missing_reports_absent_and_outdated(tmp_path: Path):
    reqs = colls.read_requirements(ROOT / "requirements.yml")
    assert len(colls.missing(tmp_path, reqs)) == len(reqs)
    manifest = tmp_path / "ansible_collections" / "community" / "crypto" / "MANIFEST.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text('{"collection_info": {"version": "1.0.0"}}')
    assert "community.crypto" in [r.name for r in colls.missing(tmp_path, reqs)]
