"""`chaton audit`: check a live CHATONS host the way an outsider (and the CHATONS charter) would.

Over HTTPS, for the portal at chaton_domain and each enabled service: no resource from a third-party host in
the served pages (nor in their style sheets), security headers, TLS 1.2/1.3 only, terms of use and privacy
pages in both languages, no fact left "not stated yet", valid ChatonsInfos files. Through Ansible (the same
inventory that deployed the host): backups scheduled with a recent archive, log retention set. The result is a
report a volunteer can publish (Markdown).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import socket
import ssl
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from chaton import checks
from chaton.inventory import Host, Inventory

CHATONSINFOS_PATH = "/.well-known/chatonsinfos/organization.properties"
PORTAL_PAGES = ["index", "about", "cgu", "privacy", "legal"]
REQUIRED_HEADERS = {
    "strict-transport-security": "HSTS (Strict-Transport-Security)",
    "x-content-type-options": "X-Content-Type-Options",
    "referrer-policy": "Referrer-Policy",
    "content-security-policy": "Content-Security-Policy",
}
# <link rel=...> values whose href the browser fetches by itself.
FETCHED_LINK_RELS = {
    "stylesheet",
    "icon",
    "shortcut",
    "apple-touch-icon",
    "preload",
    "prefetch",
    "preconnect",
    "dns-prefetch",
    "modulepreload",
    "manifest",
    "mask-icon",
}
# tag -> attributes that make the browser load something.
FETCHED_ATTRS = {
    "script": ["src"],
    "img": ["src", "srcset"],
    "source": ["src", "srcset"],
    "video": ["src", "poster"],
    "audio": ["src"],
    "track": ["src"],
    "iframe": ["src"],
    "frame": ["src"],
    "embed": ["src"],
    "object": ["data"],
    "input": ["src"],
    "image": ["href", "xlink:href"],
    "use": ["href", "xlink:href"],
}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""", re.IGNORECASE)
PROPERTY_LINE = re.compile(r"^\s*([^=:\s]+)\s*[=:]\s*(.*)$")
URL_VALUE = re.compile(r"^https?://[^/\s]+\.[^/\s]+(/\S*)?$")
EMAIL_VALUE = re.compile(r"^[^@\s]+@[^@\s]+$")
ORGANIZATION_REQUIRED = ["organization.name", "organization.website", "organization.contact.email"]
SERVICE_REQUIRED = ["service.name", "service.website", "software.name", "software.license.name"]


# ---------------------------------------------------------------- parsing (pure, unit-tested)


class _Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.missing: list[str] = []
        self.lang = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        if tag == "link":
            rels = set(a.get("rel", "").lower().split())
            if rels & FETCHED_LINK_RELS and a.get("href"):
                self.urls.append(a["href"])
        for attr in FETCHED_ATTRS.get(tag, []):
            value = a.get(attr, "").strip()
            if not value:
                continue
            if attr == "srcset":
                self.urls += [part.strip().split()[0] for part in value.split(",") if part.strip()]
            else:
                self.urls.append(value)
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            found = re.search(r"url\s*=\s*['\"]?([^'\";]+)", a.get("content", ""), re.IGNORECASE)
            if found:
                self.urls.append(found.group(1).strip())
        if a.get("style"):
            self.urls += css_urls(a["style"])
        if "missing" in a.get("class", "").split() and a.get("data-variable"):
            self.missing.append(a["data-variable"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += css_urls(data)


@dataclass
class PageFacts:
    resources: list[str]
    lang: str
    missing: list[str]


def parse_page(html: str) -> PageFacts:
    """What a browser would fetch from this HTML (raw URLs), its language, and facts marked "not stated yet"."""
    parser = _Resources()
    parser.feed(html)
    parser.close()
    return PageFacts(parser.urls, parser.lang, sorted(set(parser.missing)))


def css_urls(css: str) -> list[str]:
    """URLs a style sheet makes the browser fetch (url(...) and @import)."""
    return [m.group(1) or m.group(2) for m in CSS_URL.finditer(css) if not (m.group(1) or "").startswith("#")]


def is_own_host(host: str, domain: str) -> bool:
    host = host.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)


def third_party(urls: list[str], base: str, domain: str) -> list[str]:
    """The absolute URLs among `urls` (relative to `base`) that leave chaton_domain and its sub-domains."""
    out = []
    for url in urls:
        if url.startswith(("data:", "blob:", "about:", "#")):
            continue
        absolute = urljoin(base, url)
        parts = urlsplit(absolute)
        if parts.scheme in ("http", "https") and not is_own_host(parts.hostname or "", domain):
            out.append(absolute)
    return sorted(set(out))


def parse_properties(text: str) -> dict[str, str]:
    """A .properties file (ChatonsInfos): key = value lines, # and ! comments, blank lines ignored."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "!")):
            continue
        found = PROPERTY_LINE.match(line)
        if found:
            out[found.group(1)] = found.group(2).strip()
    return out


def chatonsinfos_problems(props: dict[str, str], kind: str) -> list[str]:
    """What makes a ChatonsInfos file of class `kind` (organization or service) invalid."""
    problems = []
    if props.get("file.class", "").lower() != kind:
        problems.append(f"file.class is '{props.get('file.class', '')}', expected '{kind}'")
    if not props.get("file.protocol", "").startswith("ChatonsInfos"):
        problems.append("file.protocol must name the ChatonsInfos version (e.g. ChatonsInfos-0.5)")
    if props.get("file.datetime") and not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", props["file.datetime"]):
        problems.append(f"file.datetime '{props['file.datetime']}' is not YYYY-MM-DDTHH:MM:SS")
    for key in ORGANIZATION_REQUIRED if kind == "organization" else SERVICE_REQUIRED:
        if not props.get(key):
            problems.append(f"{key} is missing or empty")
    for key, value in props.items():
        if value and (key.endswith((".website", ".url")) or key.startswith("subs.")) and not URL_VALUE.match(value):
            problems.append(f"{key} is not a URL: {value}")
        if value and key.endswith(".email") and not EMAIL_VALUE.match(value):
            problems.append(f"{key} is not an e-mail address: {value}")
    return problems


# ---------------------------------------------------------------- probing


@dataclass
class Check:
    target: str
    name: str
    ok: bool
    detail: str = ""
    fix: str = ""


@dataclass
class Report:
    host: str
    domain: str
    when: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, target: str, name: str, ok: bool, detail: str = "", fix: str = "") -> None:
        self.checks.append(Check(target, name, ok, detail, "" if ok else fix))

    def markdown(self) -> str:
        failed = [c for c in self.checks if not c.ok]
        lines = [
            f"# Audit of {self.domain}",
            "",
            f"Run {self.when} by `chaton audit` from outside the host (HTTPS) and through its inventory.",
            "",
            f"**{len(self.checks) - len(failed)} of {len(self.checks)} checks pass.**",
            "",
            "| result | where | check | detail |",
            "|---|---|---|---|",
        ]
        for c in self.checks:
            detail = (c.detail + (f" Fix: {c.fix}" if c.fix else "")).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {'pass' if c.ok else '**FAIL**'} | {c.target} | {c.name} | {detail} |")
        return "\n".join(lines) + "\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str


class Client:
    """HTTPS to the host's address with each name in SNI and Host (works before DNS points at the host)."""

    def __init__(self, address: str | None, port: int, cafile: str | None, timeout: float = 15.0):
        self.address, self.port, self.cafile, self.timeout = address, port, cafile, timeout

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)

    def connect(self, name: str, ctx: ssl.SSLContext) -> ssl.SSLSocket:
        sock = socket.create_connection((self.address or name, self.port), self.timeout)
        try:
            return ctx.wrap_socket(sock, server_hostname=name)
        except (OSError, ssl.SSLError):
            sock.close()
            raise

    def get(self, url: str) -> Answer:
        parts = urlsplit(url)
        name = parts.hostname or ""
        conn = http.client.HTTPSConnection(name, self.port, context=self.context(), timeout=self.timeout)
        conn.sock = self.connect(name, self.context())
        path = parts.path or "/"
        conn.request("GET", path + (f"?{parts.query}" if parts.query else ""), headers={"User-Agent": "chaton-audit"})
        resp = conn.getresponse()
        body = resp.read(2_000_000).decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in resp.getheaders()}
        conn.close()
        return Answer(resp.status, headers, body)

    def accepts(self, name: str, version: ssl.TLSVersion) -> bool | None:
        """Whether the server completes a handshake at exactly this TLS version (None: untestable from here)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            if version < ssl.TLSVersion.TLSv1_2:
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version = version
            ctx.maximum_version = version
        except (ValueError, ssl.SSLError):
            return None
        try:
            with self.connect(name, ctx) as sock:
                return sock.version() is not None
        except ssl.SSLError as exc:
            if "NO_PROTOCOLS_AVAILABLE" in str(exc).upper() or "NO PROTOCOLS AVAILABLE" in str(exc).upper():
                return None
            return False
        except OSError:
            return False


def _https(name: str, path: str = "/", port: int = 443) -> str:
    return f"https://{name}{'' if port == 443 else f':{port}'}{path}"


def audit_site(report: Report, client: Client, target: str, url: str, domain: str, *, csp_required: bool) -> None:
    """One served page: reachable, security headers, resources from the host only (style sheets included)."""
    try:
        answer = client.get(url)
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        report.add(target, "reachable over HTTPS", False, f"{url}: {exc}", "check that the service runs and its DNS")
        return
    report.add(target, "reachable over HTTPS", answer.status < 400, f"{url}: HTTP {answer.status}")
    missing = [label for key, label in REQUIRED_HEADERS.items() if key not in answer.headers]
    if not csp_required and "Content-Security-Policy" in missing:
        missing.remove("Content-Security-Policy")
    hsts = re.search(r"max-age=(\d+)", answer.headers.get("strict-transport-security", ""))
    if hsts and int(hsts.group(1)) < 15552000:
        missing.append("HSTS max-age of at least 180 days")
    if "x-frame-options" not in answer.headers and "frame-ancestors" not in answer.headers.get(
        "content-security-policy", ""
    ):
        missing.append("X-Frame-Options or CSP frame-ancestors")
    report.add(
        target,
        "security headers",
        not missing,
        "missing: " + ", ".join(missing) if missing else "HSTS, nosniff, Referrer-Policy, CSP, framing",
        "keep the proxy's snippets/chaton-headers.conf included in the server block",
    )
    facts = parse_page(answer.body)
    resources = list(facts.resources)
    for sheet in [u for u in facts.resources if u.endswith(".css") or "css" in u]:
        absolute = urljoin(url, sheet)
        if is_own_host(urlsplit(absolute).hostname or "", domain):
            try:
                css = client.get(absolute)
                resources += [urljoin(absolute, u) for u in css_urls(css.body)]
            except (OSError, ssl.SSLError, http.client.HTTPException):
                pass
    outside = third_party(resources, url, domain)
    report.add(
        target,
        "no third-party resource",
        not outside,
        ("loads " + ", ".join(outside)) if outside else f"{len(resources)} resource(s), all from {domain}",
        "serve fonts, scripts, images and styles from the host itself (no CDN, Google fonts, gravatar)",
    )


def audit_portal(report: Report, client: Client, domain: str, services: list[str]) -> None:
    target = "portal"
    audit_site(report, client, target, _https(domain, "/", client.port), domain, csp_required=True)
    missing: dict[str, list[str]] = {}
    for lang in ("fr", "en"):
        for page in PORTAL_PAGES:
            url = _https(domain, f"/{lang}/{page}.html", client.port)
            try:
                answer = client.get(url)
            except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
                report.add(target, f"page /{lang}/{page}.html", False, str(exc), "run chaton deploy (role portal)")
                continue
            facts = parse_page(answer.body)
            good = answer.status == 200 and facts.lang == lang
            if page in ("cgu", "privacy") or not good:
                report.add(
                    target,
                    f"page /{lang}/{page}.html",
                    good,
                    f"HTTP {answer.status}, lang={facts.lang or '-'}",
                    "keep portal_enabled: true and run chaton deploy",
                )
            outside = third_party(facts.resources, url, domain)
            if outside:
                report.add(target, f"no third-party resource in /{lang}/{page}.html", False, ", ".join(outside))
            for var in facts.missing:
                missing.setdefault(var, []).append(f"/{lang}/{page}.html")
    report.add(
        target,
        "every published fact is stated",
        not missing,
        "; ".join(f"{var} (on {', '.join(pages)})" for var, pages in missing.items()) or "no 'not stated yet'",
        "set these variables in the inventory (see roles/portal/README.md)",
    )
    audit_chatonsinfos(report, client, domain, services)


def audit_chatonsinfos(report: Report, client: Client, domain: str, services: list[str]) -> None:
    target = "ChatonsInfos"
    url = _https(domain, CHATONSINFOS_PATH, client.port)
    try:
        answer = client.get(url)
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        report.add(target, "organization file", False, f"{url}: {exc}", "keep portal_chatonsinfos_enabled: true")
        return
    if answer.status != 200:
        report.add(
            target, "organization file", False, f"{url}: HTTP {answer.status}", "keep portal_chatonsinfos_enabled"
        )
        return
    org = parse_properties(answer.body)
    problems = chatonsinfos_problems(org, "organization")
    report.add(target, "organization file valid", not problems, "; ".join(problems) or url, "edit the portal_* values")
    subs = {k.removeprefix("subs."): v for k, v in org.items() if k.startswith("subs.")}
    for name in services:
        if name not in subs:
            report.add(target, f"{name} listed", False, f"no subs.{name} in the organization file", "run chaton deploy")
    for name, sub in sorted(subs.items()):
        if not is_own_host(urlsplit(sub).hostname or "", domain):
            report.add(target, f"service file {name}", False, f"{sub} is not on {domain}")
            continue
        try:
            svc = client.get(sub)
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            report.add(target, f"service file {name}", False, f"{sub}: {exc}")
            continue
        problems = (
            [f"HTTP {svc.status}"]
            if svc.status != 200
            else chatonsinfos_problems(parse_properties(svc.body), "service")
        )
        report.add(target, f"service file {name} valid", not problems, "; ".join(problems) or sub, "run chaton deploy")


def audit_tls(report: Report, client: Client, name: str) -> None:
    results = {}
    for label, version in (
        ("TLS 1.0", ssl.TLSVersion.TLSv1),
        ("TLS 1.1", ssl.TLSVersion.TLSv1_1),
        ("TLS 1.2", ssl.TLSVersion.TLSv1_2),
        ("TLS 1.3", ssl.TLSVersion.TLSv1_3),
    ):
        results[label] = client.accepts(name, version)
    old = [k for k in ("TLS 1.0", "TLS 1.1") if results[k]]
    new = [k for k in ("TLS 1.2", "TLS 1.3") if results[k] is False]
    untested = [k for k, v in results.items() if v is None]
    detail = ", ".join(
        f"{k}: {'accepted' if v else 'refused' if v is False else 'not testable here'}" for k, v in results.items()
    )
    report.add(
        "TLS",
        f"{name}: TLS 1.2 and 1.3 only",
        not old and not new,
        detail + (f" ({', '.join(untested)} untested)" if untested else ""),
        "keep the proxy's snippets/chaton-tls.conf (ssl_protocols TLSv1.2 TLSv1.3)",
    )


HOST_SCRIPT = r"""
set -u
echo "timer=$(systemctl is-enabled chaton-backup.timer 2>/dev/null)"
echo "timer_active=$(systemctl is-active chaton-backup.timer 2>/dev/null)"
echo "configs=$(ls /etc/borgmatic.d/ 2>/dev/null | tr '\n' ' ')"
if [ -d "$REPO" ]; then
  last=$(BORG_PASSCOMMAND='cat /etc/chaton/backup/passphrase' BORG_RELOCATED_REPO_ACCESS_IS_OK=no \
    borg list --json --last 1 "$REPO" 2>/dev/null \
    | python3 -c 'import json, sys; a = json.load(sys.stdin)["archives"]; print(a[-1]["start"] if a else "")')
  echo "last_archive=$last"
fi
retention=$(systemd-analyze cat-config systemd/journald.conf 2>/dev/null | sed -n 's/^MaxRetentionSec=//p')
echo "journald=$(echo "$retention" | tail -n 1)"
rotate=$(sed -n 's/^[[:space:]]*rotate[[:space:]]\+\([0-9]\+\).*/\1/p' /etc/logrotate.d/nginx 2>/dev/null)
echo "logrotate=$(echo "$rotate" | head -n 1)"
"""


def host_facts(
    inv: Inventory, host: Host, vault_password_file: Path | None = None
) -> tuple[dict[str, str] | None, str]:
    """Run HOST_SCRIPT on the host through Ansible (become); return its key=value lines, or None and why."""
    import ansible_runner

    from chaton.runner import ansible_env

    repo = str(host.vars.get("backup_local_repository", "/var/backups/chaton/borg"))
    output: dict[str, str] = {}
    error = ""

    def handler(event: dict) -> bool:
        nonlocal error
        data = event.get("event_data") or {}
        res = data.get("res") or {}
        if event.get("event") == "runner_on_ok":
            for line in str(res.get("stdout", "")).splitlines():
                key, _, value = line.partition("=")
                output[key.strip()] = value.strip()
        elif event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            error = str(res.get("msg") or res.get("stderr") or "failed")
        return True

    with tempfile.TemporaryDirectory(prefix="chaton-audit-") as tmp:
        runner = ansible_runner.run(
            private_data_dir=tmp,
            inventory=str(Path(inv.path).resolve()),
            host_pattern=host.name,
            module="ansible.builtin.shell",
            module_args=f"REPO={json.dumps(repo)}\n{HOST_SCRIPT}",
            cmdline="--become" + (f" --vault-password-file {vault_password_file}" if vault_password_file else ""),
            envvars=ansible_env(),
            quiet=True,
            event_handler=handler,
        )
    if runner.rc != 0 or not output:
        return None, error or f"ansible exited with {runner.rc}"
    return output, ""


def audit_host(
    report: Report,
    facts: dict[str, str],
    host: Host,
    max_age_hours: int,
    now: dt.datetime,
    inventory: str = "<inventory>",
) -> None:
    backup_on = host.vars.get("backup_enabled", True) is not False
    scheduled = facts.get("timer") == "enabled" and facts.get("timer_active") == "active"
    report.add(
        "backups",
        "backups scheduled",
        backup_on and scheduled and bool(facts.get("configs")),
        f"timer {facts.get('timer') or 'absent'}/{facts.get('timer_active') or '-'}, "
        f"configurations: {facts.get('configs') or 'none'}",
        "keep backup_enabled: true and run chaton deploy",
    )
    last = facts.get("last_archive", "")
    age = None
    if last:
        try:
            started = dt.datetime.fromisoformat(last)
            started = started if started.tzinfo else started.replace(tzinfo=dt.UTC)
            age = (now - started).total_seconds() / 3600
        except ValueError:
            age = None
    report.add(
        "backups",
        f"an archive younger than {max_age_hours} h",
        age is not None and age <= max_age_hours,
        f"latest archive {last} ({age:.1f} h ago)" if age is not None else "no archive found",
        f"run chaton backup {inventory} and look at journalctl -u chaton-backup.service",
    )
    wanted = str(host.vars.get("chaton_log_retention_days", 14))
    journald = facts.get("journald", "")
    rotate = facts.get("logrotate", "")
    report.add(
        "logs",
        "log retention set",
        journald == f"{wanted}day" and rotate == wanted,
        f"journald MaxRetentionSec={journald or 'unset'}, nginx logs rotated {rotate or '?'} times (daily); "
        f"inventory says {wanted} days",
        "run chaton deploy (roles common and proxy set the retention from chaton_log_retention_days)",
    )


def run(
    inv: Inventory,
    *,
    address: str | None = None,
    port: int | None = None,
    cafile: str | None = None,
    host_checks: bool = True,
    max_backup_age_hours: int = 48,
    vault_password_file: Path | None = None,
) -> list[Report]:
    reports = []
    now = dt.datetime.now(dt.UTC)
    for host in inv.chaton_hosts.values():
        domain = str(host.vars.get("chaton_domain", ""))
        target = address or host.vars.get("chaton_status_address") or None
        from chaton.operate import host_cafile, public_port

        client = Client(str(target) if target else None, port or public_port(host), cafile or host_cafile(inv, host))
        report = Report(host.name, domain, now.strftime("%Y-%m-%d %H:%M UTC"))
        services = checks.enabled_services(host)
        publisher = checks.portal_host(inv, host)
        tls_name = domain
        if publisher == host.name:
            audit_portal(report, client, domain, services)
        elif publisher:
            # Another server of the association publishes the portal (its own audit checks it); this one
            # serves its services only, and its TLS is checked on the first of them.
            report.add("portal", "portal published", True, f"by {publisher}, another server of {domain}", "")
            tls_name = checks.service_domain(host, services[0]) if services else domain
        else:
            report.add("portal", "portal published", False, "portal_enabled is false", "set portal_enabled: true")
        audit_tls(report, client, tls_name)
        for name in services:
            audit_site(
                report,
                client,
                name,
                _https(checks.service_domain(host, name), "/", client.port),
                domain,
                csp_required=False,
            )
        if host_checks:
            facts, why = host_facts(inv, host, vault_password_file)
            if facts is None:
                report.add("host", "host reachable through Ansible", False, why, "check the inventory's connection")
            else:
                audit_host(report, facts, host, max_backup_age_hours, now, str(inv.directory))
        reports.append(report)
    return reports
