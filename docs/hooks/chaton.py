"""MkDocs hook: pages show what the roles declare, so the documentation never drifts from them.

Markers a page may hold (an HTML comment on a line of its own):

- ``<!-- chaton:variables ROLE [ENTRY_POINT] -->``: the role's public variables, read from
  ``roles/ROLE/meta/argument_specs.yml`` (entry point ``main`` by default), with the defaults of
  ``roles/ROLE/defaults/main.yml``; secrets (``no_log``) are shown as generated, never their lookup.
- ``<!-- chaton:services -->``: every service role (``roles/*/meta/chaton.yml``): its title, what it is (in the page's
  language), its sub-domain and the memory and disk ``chaton check`` counts for it.

- ``<!-- chaton:artifacts -->``: the files each service downloads (its roles' pinned ``*_url``/``*_checksum``
  pairs, as ``chaton mirror`` reads them), at their place in a ``chaton_artifact_mirror`` directory.

A role that is not in the tree yet renders a note saying so (in the page's language) instead of a table.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from pathlib import Path

import yaml

MARKER = re.compile(
    r"^<!--\s*chaton:(?P<what>variables|services|artifacts)(?P<args>(?:\s+[\w-]+)*)\s*-->\s*$", re.MULTILINE
)

TEXT = {
    "en": {
        "variable": "variable",
        "type": "type",
        "default": "default",
        "description": "description",
        "required": "required",
        "secret": "generated on the controller (secret)",
        "computed": "see <code>defaults/main.yml</code>",
        "none": "—",
        "choices": "One of",
        "missing": "The role <code>{role}</code> is not in this version of chaton yet: "
        "this table appears when it lands.",
        "service": "service",
        "role": "role",
        "what": "what it is",
        "address": "address",
        "memory": "memory (MB)",
        "disk": "disk (MB)",
        "files": "files in the mirror",
    },
    "fr": {
        "variable": "variable",
        "type": "type",
        "default": "valeur par défaut",
        "description": "description (celle du rôle, en anglais)",
        "required": "obligatoire",
        "secret": "générée sur le poste de contrôle (secret)",
        "computed": "voir <code>defaults/main.yml</code>",
        "none": "—",
        "choices": "Valeurs possibles",
        "missing": "Le rôle <code>{role}</code> n'est pas encore dans cette version de chaton : "
        "ce tableau apparaîtra avec lui.",
        "service": "service",
        "role": "rôle",
        "what": "ce que c'est",
        "address": "adresse",
        "memory": "mémoire (Mo)",
        "disk": "disque (Mo)",
        "files": "fichiers dans le miroir",
    },
}

# A default longer than this is better read in the file itself.
MAX_DEFAULT = 60


def _root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


def _locale(page) -> str:
    locale = getattr(page.file, "locale", None)
    if not locale:
        locale = "fr" if page.file.src_uri.endswith(".fr.md") else "en"
    return locale if locale in TEXT else "en"


def _load(path: Path) -> dict:
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _markup(text: str) -> str:
    """Ansible's documentation markup (C(), I(), V()...) as HTML, everything else escaped."""
    text = html.escape(text)
    return re.sub(r"\b[CVIO]\(([^)]*)\)", r"<code>\1</code>", text)


def _description(spec: dict, t: dict) -> str:
    desc = spec.get("description", "")
    if isinstance(desc, list):
        desc = " ".join(str(d) for d in desc)
    out = _markup(str(desc))
    if spec.get("choices"):
        out += f" {t['choices']}: " + ", ".join(f"<code>{html.escape(str(c))}</code>" for c in spec["choices"]) + "."
    return out


def _default(name: str, spec: dict, defaults: dict, t: dict) -> str:
    if spec.get("no_log"):
        return t["secret"]
    if name in defaults:
        value = defaults[name]
    elif "default" in spec:
        value = spec["default"]
    elif spec.get("required"):
        return t["required"]
    else:
        return t["none"]
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(shown) > MAX_DEFAULT:
        return t["computed"]
    return f"<code>{html.escape(shown)}</code>" if shown != "" else '<code>""</code>'


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="chaton-vars"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table></div>\n'


def _missing(role: str, t: dict) -> str:
    return f'<div class="admonition note"><p>{t["missing"].format(role=html.escape(role))}</p></div>\n'


def variables_table(root: Path, role: str, entry: str, locale: str) -> str:
    t = TEXT[locale]
    specs = _load(root / "roles" / role / "meta" / "argument_specs.yml").get("argument_specs") or {}
    if entry not in specs:
        return _missing(role, t)
    defaults = _load(root / "roles" / role / "defaults" / "main.yml")
    rows = []
    for name, spec in (specs[entry].get("options") or {}).items():
        spec = spec or {}
        rows.append(
            [
                f"<code>{html.escape(name)}</code>",
                html.escape(str(spec.get("type", "str"))),
                _default(name, spec, defaults, t),
                _description(spec, t),
            ]
        )
    return _table([t["variable"], t["type"], t["default"], t["description"]], rows)


def services_table(root: Path, locale: str, page_dir: str) -> str:
    """Markdown, so that MkDocs checks the links to the services' pages (relative to the page's directory)."""
    t = TEXT[locale]
    lines = [
        f"| {t['service']} | {t['what']} | {t['address']} | {t['memory']} | {t['disk']} |",
        "|---|---|---|---:|---:|",
    ]
    for meta in sorted((root / "roles").glob("*/meta/chaton.yml")):
        svc = _load(meta).get("chaton_service")
        if not svc:
            continue
        name = meta.parent.parent.name
        title = str(svc.get("title", name)).replace("|", "/")
        link = posixpath.relpath(f"services/{name}.md", page_dir or ".")
        what = str(svc.get(f"description_{locale}") or svc.get("description_en") or "").replace("|", "/")
        lines.append(
            f"| [{title}]({link}) | {what} | `{svc.get('subdomain', name)}.<chaton_domain>` "
            f"| {svc.get('memory_mb', '')} | {svc.get('disk_mb', '')} |"
        )
    return "\n".join(lines) + "\n"


def artifacts_table(root: Path, locale: str) -> str:
    from chaton import mirror

    t = TEXT[locale]
    lines = [f"| {t['service']} | {t['files']} |", "|---|---|"]
    for meta in sorted((root / "roles").glob("*/meta/chaton.yml")):
        if not _load(meta).get("chaton_service"):
            continue
        name = meta.parent.parent.name
        files = ", ".join(f"`{pin.path}`" for pin in mirror.pins([name], root=root)) or t["none"]
        lines.append(f"| `{name}` | {files} |")
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    root = _root(config)
    locale = _locale(page)

    def render(match: re.Match) -> str:
        args = match.group("args").split()
        if match.group("what") == "services":
            return services_table(root, locale, posixpath.dirname(page.file.src_uri))
        if match.group("what") == "artifacts":
            return artifacts_table(root, locale)
        role = args[0]
        entry = args[1] if len(args) > 1 else "main"
        return variables_table(root, role, entry, locale)

    return MARKER.sub(render, markdown)
