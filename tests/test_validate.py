"""A bad inventory is refused before any change, with a message naming the variable."""

from __future__ import annotations

import pytest
from conftest import ROOT, inventory_with, run_playbook

GOOD = {
    "chaton_domain": "chatons.example.org",
    "chaton_name": "Les Chatons",
    "chaton_admin_email": "admin@example.org",
    "chaton_tls": "acme",
    "common_admin_users": [{"name": "camille", "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey camille@pc"]}],
}

# (case id, changes to GOOD (None removes the key), text the error must contain)
BAD = [
    ("empty-domain", {"chaton_domain": ""}, "chaton_domain"),
    ("missing-domain", {"chaton_domain": None}, "chaton_domain"),
    ("domain-with-scheme", {"chaton_domain": "https://example.org"}, "chaton_domain"),
    ("domain-upper-case", {"chaton_domain": "Example.ORG"}, "chaton_domain"),
    ("domain-single-label", {"chaton_domain": "localhost"}, "chaton_domain"),
    ("domain-not-a-string", {"chaton_domain": ["a.org"]}, "chaton_domain"),
    ("missing-email", {"chaton_admin_email": None}, "chaton_admin_email"),
    ("invalid-email", {"chaton_admin_email": "admin.example.org"}, "chaton_admin_email"),
    ("email-with-space", {"chaton_admin_email": "ad min@example.org"}, "chaton_admin_email"),
    ("unknown-tls-mode", {"chaton_tls": "letsencrypt"}, "chaton_tls"),
    ("acme-directory-http", {"chaton_acme_directory": "http://acme.example.org/dir"}, "chaton_acme_directory"),
    ("retention-zero", {"chaton_log_retention_days": 0}, "chaton_log_retention_days"),
    ("retention-not-a-number", {"chaton_log_retention_days": "two weeks"}, "chaton_log_retention_days"),
    (
        "extra-ca-missing-file",
        {"chaton_extra_ca_certificates": ["/nonexistent/ca.pem"]},
        "chaton_extra_ca_certificates",
    ),
    ("extra-ca-not-a-list", {"chaton_extra_ca_certificates": 12}, "chaton_extra_ca_certificates"),
    ("swap-size-words", {"common_swap_size_mb": "big"}, "common_swap_size_mb"),
    ("admin-root", {"common_admin_users": [{"name": "root", "ssh_keys": []}]}, "common_admin_users"),
    ("admin-bad-key", {"common_admin_users": [{"name": "camille", "ssh_keys": ["my password"]}]}, "common_admin_users"),
    ("admin-without-name", {"common_admin_users": [{"ssh_keys": []}]}, "name"),
    ("nobody-can-log-in", {"common_admin_users": []}, "common_admin_users"),
    (
        "firewall-locks-out-ssh",
        {"common_firewall_allowed_tcp_ports_default": [80, 443]},
        "common_firewall_allowed_tcp_ports_default",
    ),
    ("root-login-yes", {"common_sshd_permit_root_login": "yes"}, "common_sshd_permit_root_login"),
    ("provided-without-files", {"chaton_tls": "provided"}, "proxy_provided_certificate"),
    ("site-without-content", {"proxy_sites_custom": [{"name": "www.example.org"}]}, "proxy_sites_custom"),
    ("sites-not-a-list", {"proxy_sites_custom": "www.example.org"}, "proxy_sites_custom"),
    ("peertube-bad-checksum", {"peertube_enabled": True, "peertube_checksum": "sha256:f2e7"}, "peertube_checksum"),
    (
        "peertube-no-checksum-no-key",
        {"peertube_enabled": True, "peertube_checksum": "", "peertube_signing_fingerprint": "583A612D890159BE"},
        "peertube_signing_fingerprint",
    ),
    ("port-above-65535", {"ethercalc_enabled": True, "ethercalc_port": 80000}, "ethercalc_port"),
    ("port-zero", {"peertube_enabled": True, "peertube_live_rtmp_port": 0}, "peertube_live_rtmp_port"),
    ("sshd-port-words", {"common_sshd_port": "ssh"}, "common_sshd_port"),
    (
        "firewall-port-zero",
        {"common_firewall_allowed_tcp_ports_custom": [8443, 0]},
        "common_firewall_allowed_tcp_ports_custom",
    ),
]


def _inventory(tmp_path, changes):
    return inventory_with(tmp_path, GOOD, changes)


def test_good_inventory_passes(tmp_path):
    result = run_playbook(ROOT / "playbooks" / "validate.yml", _inventory(tmp_path, {}))
    assert result.returncode == 0, result.stdout[-3000:]


def test_peertube_pinned_release_passes(tmp_path):
    """The shipped pin (version and checksum) validates as it is."""
    result = run_playbook(ROOT / "playbooks" / "validate.yml", _inventory(tmp_path, {"peertube_enabled": True}))
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize(("case", "changes", "expected"), BAD, ids=[c[0] for c in BAD])
def test_bad_inventory_is_refused(tmp_path, case, changes, expected):
    result = run_playbook(ROOT / "playbooks" / "validate.yml", _inventory(tmp_path, changes))
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"{case} was accepted"
    assert expected in output, output[-3000:]


@pytest.mark.parametrize(("case", "changes", "expected"), BAD[:4], ids=[c[0] for c in BAD[:4]])
def test_site_refuses_bad_inventory_before_any_change(tmp_path, case, changes, expected):
    """The entry point itself stops at validation: nothing reports a change."""
    result = run_playbook(ROOT / "site.yml", _inventory(tmp_path, changes), "--check")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert expected in output
    assert "changed=0" in output


def test_bad_case_count():
    print(f"\n{len(BAD)} bad inventories checked")
    assert len(BAD) >= 25
