"""`chaton audit`: the parsing parts, against small real pages, style sheets and ChatonsInfos files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from chaton import audit
from chaton.inventory import Host

DATA = Path(__file__).parent / "test_audit_data"
DOMAIN = "chaton.test"


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_third_party_resources_of_a_tracking_page_are_all_found():
    facts = audit.parse_page(read("tracked.html"))
    outside = audit.third_party(facts.resources, f"https://{DOMAIN}/", DOMAIN)
    assert outside == sorted(
        [
            "https://cdn.example.org/a-2x.png",
            "https://cdn.jsdelivr.net/npm/jquery@3.7.1/dist/jquery.min.js",
            "https://fonts.googleapis.com/css2?family=Roboto&display=swap",
            "https://fonts.gstatic.com",
            "https://images.example.net/bg.jpg",
            "https://tracker.example.com/pixel.gif",
            "https://www.gravatar.com/avatar/00000000000000000000000000000000?s=80",
            "https://www.youtube.com/embed/xyz",
        ]
    )
    assert facts.lang == "fr"


def test_links_forms_and_alternates_are_not_resources():
    facts = audit.parse_page(read("tracked.html"))
    assert not any("chatons.org" in u or "elsewhere.example" in u for u in facts.resources)


def test_own_host_and_its_subdomains_are_not_third_party():
    facts = audit.parse_page(read("tracked.html"))
    own = [u for u in facts.resources if u not in audit.third_party(facts.resources, f"https://{DOMAIN}/", DOMAIN)]
    assert "/assets/site.css" in own
    assert "https://pad.chaton.test/static/p.webp" in own
    assert not any(u.startswith("data:") for u in audit.third_party(own, f"https://{DOMAIN}/", DOMAIN))
    # A look-alike is not a sub-domain.
    assert audit.third_party(["https://evilchaton.test/x.js"], f"https://{DOMAIN}/", DOMAIN)


def test_style_sheet_imports_and_urls():
    urls = audit.css_urls(read("site.css"))
    assert urls == [
        "https://fonts.googleapis.com/css?family=Open+Sans",
        "/assets/local.css",
        "fonts/x.woff2",
        "https://cdn.example.org/hero.png",
    ]
    base = f"https://{DOMAIN}/assets/site.css"
    assert audit.third_party(urls, base, DOMAIN) == [
        "https://cdn.example.org/hero.png",
        "https://fonts.googleapis.com/css?family=Open+Sans",
    ]


def test_portal_page_facts_left_unstated_name_their_variables():
    facts = audit.parse_page(read("portal-missing.html"))
    assert facts.missing == ["portal_hosting_provider", "portal_organization_legal_form"]
    assert facts.lang == "en"
    assert audit.third_party(facts.resources, f"https://{DOMAIN}/en/legal.html", DOMAIN) == []


def test_valid_organization_file():
    props = audit.parse_properties(read("organization.properties"))
    assert props["organization.name"] == "Chatons de test"
    assert props["subs.ethercalc"].endswith("/.well-known/chatonsinfos/ethercalc.properties")
    assert audit.chatonsinfos_problems(props, "organization") == []


def test_broken_service_file_says_what_is_wrong():
    props = audit.parse_properties(read("broken-service.properties"))
    problems = audit.chatonsinfos_problems(props, "service")
    text = "\n".join(problems)
    assert "file.class is 'organization', expected 'service'" in text
    assert "file.protocol" in text
    assert "file.datetime 'yesterday'" in text
    assert "software.name is missing or empty" in text
    assert "software.license.name is missing or empty" in text
    assert "service.website is not a URL: calc.chaton.test" in text


@pytest.mark.parametrize(
    ("facts", "ok"),
    [
        (
            {
                "timer": "enabled",
                "timer_active": "active",
                "configs": "host.yaml",
                "last_archive": "2026-11-29T10:00:00.000000",
                "journald": "12day",
                "logrotate": "12",
            },
            True,
        ),
        ({"timer": "disabled", "timer_active": "inactive", "configs": "", "journald": "", "logrotate": "14"}, False),
    ],
)
def test_host_checks(facts, ok):
    report = audit.Report("h", DOMAIN, "now")
    host = Host("h", {"chaton_log_retention_days": 12})
    audit.audit_host(report, facts, host, 48, dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC))
    assert report.ok is ok, report.markdown()
    assert len(report.checks) == 3


def test_old_archive_fails_and_report_is_markdown():
    report = audit.Report("h", DOMAIN, "2026-11-29 12:00 UTC")
    facts = {
        "timer": "enabled",
        "timer_active": "active",
        "configs": "host.yaml",
        "last_archive": "2026-11-20T10:00:00",
    }
    now = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
    audit.audit_host(report, facts, Host("h", {}), 48, now, "inventories/mine")
    failed = [c.name for c in report.checks if not c.ok]
    assert "an archive younger than 48 h" in failed
    md = report.markdown()
    assert md.startswith(f"# Audit of {DOMAIN}")
    assert "| **FAIL** | backups |" in md
    # The fix names the inventory (what `chaton backup` takes), never the host.
    assert "Fix: run chaton backup inventories/mine " in md
