"""nginx redirects of the addresses `chaton migrate` moved, for playbooks/redirect.yml.

``mapping | nginx_redirects(name)`` gives the server-block lines that make the site ``name`` answer 301 to each new
address: the old address itself (exact match), and the paths under it (a pad's ``/timeslider`` or
``/export/...``, a poll's ``/admin/action/...``) to the same path under the new address. A poll's public address
is in the mapping beside its admin address (its voters hold it). The site's server block
includes them (roles/proxy/templates/site.conf.j2).
"""

from __future__ import annotations

import re
import urllib.parse

# Paths the prefix rule takes: letters, digits and . _ ~ - between slashes (what pad, sheet and poll names
# usually are). Another path gets its exact match only.
PLAIN = re.compile(r"^/[A-Za-z0-9._~/-]+$")


def _quote_new(url: str) -> str:
    """The new address for a double-quoted nginx string: no variable, quote or space can come from it."""
    return urllib.parse.quote(url, safe=":/?#[]@!&'()*+,;=%~.-_")


def redirect_entries(mapping: list[dict], name: str) -> list[tuple[str, str]]:
    """(old path, new address) of the mapping's addresses on the site ``name``, sorted, one per path."""
    found: dict[str, str] = {}
    for entry in mapping or []:
        old = urllib.parse.urlsplit(str(entry.get("old", "")))
        new = str(entry.get("new", ""))
        if (old.hostname or "").lower() != name.lower() or not new.startswith(("https://", "http://")):
            continue
        if str(entry.get("old", "")).rstrip("/") == new.rstrip("/"):
            continue  # moved onto itself (a host listing its own items): a redirect would loop
        path = urllib.parse.unquote(old.path).rstrip("/") or "/"
        if path == "/" or any(c in path for c in '"\\') or any(ord(c) < 32 for c in path):
            continue
        if old.query:
            # adminstuds.php?poll=<admin id>, studs.php?poll=<public id>: a query is not a location; the short
            # address of the same poll is.
            poll = urllib.parse.parse_qs(old.query).get("poll", [""])[0]
            script = path.rsplit("/", 1)[-1]
            if script == "adminstuds.php" and re.fullmatch(r"[A-Za-z0-9]{24}", poll):
                path = path.removesuffix("/adminstuds.php") + f"/{poll}/admin"
            elif script == "studs.php" and re.fullmatch(r"[A-Za-z0-9]{16}", poll):
                path = path.removesuffix("/studs.php") + f"/{poll}"
            else:
                continue
        found[path] = _quote_new(new.rstrip("/"))
    return sorted(found.items())


def nginx_redirects(mapping: list[dict], name: str) -> str:
    """Server-block lines answering 301 for each moved address of the site ``name`` (empty: none)."""
    lines = []
    for path, new in redirect_entries(mapping, name):
        lines.append(f'location = "{path}" {{ return 301 "{new}"; }}')
        if PLAIN.match(path):
            pattern = re.sub(r"([.])", r"\\\1", path)
            lines.append(f'location ~ "^{pattern}(/.*)$" {{ return 301 "{new}$1$is_args$args"; }}')
    return "\n".join(lines) + ("\n" if lines else "")


class FilterModule:
    def filters(self):
        return {"nginx_redirects": nginx_redirects}
