"""The documentation: built with --strict, every page in English and French, nothing loaded from another host.

English pages are docs/<page>.md, French ones docs/<page>.fr.md (mkdocs-static-i18n, suffix structure).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LANGUAGES = ("fr",)  # besides the default, English
# Attributes through which a page loads something (a plain <a href> is a link, not a resource).
RESOURCE_ATTRS = {
    "link": "href",
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "video": "src",
    "audio": "src",
    "embed": "src",
}
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


def mkdocs_build(config: Path, site_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(config),
            "--site-dir",
            str(site_dir),
        ],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = mkdocs_build(ROOT / "mkdocs.yml", out)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts)


def english_pages() -> list[Path]:
    return [p for p in pages() if not any(p.name.endswith(f".{lang}.md") for lang in LANGUAGES)]


def translation(page: Path, lang: str) -> Path:
    return page.with_name(page.name[: -len(".md")] + f".{lang}.md")


def test_every_page_exists_in_both_languages():
    missing = [
        f"{translation(p, lang).relative_to(ROOT)} (translation of {p.relative_to(ROOT)})"
        for p in english_pages()
        for lang in LANGUAGES
        if not translation(p, lang).is_file()
    ]
    for lang in LANGUAGES:
        missing += [
            f"{p.with_name(p.name.replace(f'.{lang}.md', '.md')).relative_to(ROOT)} (original of {p.relative_to(ROOT)})"
            for p in pages()
            if p.name.endswith(f".{lang}.md") and not p.with_name(p.name.replace(f".{lang}.md", ".md")).is_file()
        ]
    assert not missing, "pages missing in one language:\n" + "\n".join(missing)


def test_every_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s*([\w/-]+\.md)\s*$", nav, re.MULTILINE))
    unlisted = [str(p.relative_to(DOCS)) for p in english_pages() if str(p.relative_to(DOCS)) not in listed]
    assert not unlisted, f"pages missing from the nav of mkdocs.yml: {unlisted}"


def test_every_service_role_has_its_page():
    services = []
    for meta in sorted((ROOT / "roles").glob("*/meta/chaton.yml")):
        if (yaml.safe_load(meta.read_text(encoding="utf-8")) or {}).get("chaton_service"):
            services.append(meta.parent.parent.name)
    assert services, "no service role found"
    missing = []
    for name in services:
        page = DOCS / "services" / f"{name}.md"
        if not page.is_file():
            missing.append(f"docs/services/{name}.md")
        elif f"<!-- chaton:variables {name} -->" not in page.read_text(encoding="utf-8"):
            missing.append(f"the variables marker <!-- chaton:variables {name} --> in docs/services/{name}.md")
    assert not missing, "services without documentation: " + ", ".join(missing)


def test_both_languages_are_built(site):
    # 404.html is served for every language from the site's root.
    english = [
        p.relative_to(site)
        for p in site.rglob("*.html")
        if p.relative_to(site).parts[0] not in LANGUAGES and p.name != "404.html"
    ]
    assert len(english) >= len(english_pages())
    for lang in LANGUAGES:
        missing = [str(p) for p in english if not (site / lang / p).is_file()]
        assert not missing, f"built in English only: {missing}"
        home = (site / lang / "index.html").read_text(encoding="utf-8")
        assert f'<html lang="{lang}"' in home


class _Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attr = RESOURCE_ATTRS.get(tag)
        for name, value in attrs:
            if value and (name == attr or name == "srcset") and EXTERNAL.match(value):
                self.found.append(f"<{tag} {name}={value}>")
            if name == "style" and value and re.search(r"url\(\s*['\"]?(https?:)?//", value):
                self.found.append(f"<{tag} style={value}>")


def test_no_resource_from_another_host(site):
    offending = []
    for page in site.rglob("*.html"):
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        offending += [f"{page.relative_to(site)}: {item}" for item in parser.found]
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        offending += [
            f"{css.relative_to(site)}: {m}"
            for m in re.findall(r"@import[^;]*//[^;]*;|url\(\s*['\"]?(?:https?:)?//[^)]*\)", text)
        ]
    assert not offending, "resources loaded from another host:\n" + "\n".join(sorted(set(offending)))


def test_variables_tables_list_every_option_of_the_roles(site):
    marker = re.compile(r"<!--\s*chaton:variables\s+([\w-]+)(?:\s+([\w-]+))?\s*-->")
    checked = 0
    for page in english_pages():
        for role, entry in marker.findall(page.read_text(encoding="utf-8")):
            specs_file = ROOT / "roles" / role / "meta" / "argument_specs.yml"
            if not specs_file.is_file():
                continue  # the page says the role has not landed yet
            specs = yaml.safe_load(specs_file.read_text(encoding="utf-8"))["argument_specs"][entry or "main"]
            rel = page.relative_to(DOCS).with_suffix(".html")
            built = [site / rel, site / "fr" / rel]
            for html in built:
                text = html.read_text(encoding="utf-8")
                absent = [o for o in specs.get("options", {}) if f"<code>{o}</code>" not in text]
                assert not absent, f"{html.relative_to(site)} lacks {role}'s variables {absent}"
            checked += 1
    assert checked, "no variables table was checked"


def test_a_missing_translation_fails_the_build(tmp_path):
    """The build itself refuses a page that exists in English only (no silent fallback)."""
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copytree(ROOT / "roles", tmp_path / "roles")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "docs" / "operations" / "restore.fr.md").unlink()
    result = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert "restore" in result.stdout + result.stderr
