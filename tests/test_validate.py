"""A bad inventory is refused before any change, with a message naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
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


# Refused by the gate site.yml shares with `chaton check` (roles/chaton/filter_plugins/chaton_gate.py), with the
# same message: argument_specs alone lets these through.
GATE_BAD = [
    ("boolean-as-string", {"proxy_gzip_enabled": "yes"}, "proxy_gzip_enabled: 'yes' is not of type 'boolean'"),
    ("service-switch-as-string", {"etherpad_enabled": "yes"}, "etherpad_enabled: 'yes' is not of type 'boolean'"),
    ("variable-near-a-known-one", {"chaton_domian": "example.org"}, "did you mean chaton_domain?"),
    ("service-near-a-known-one", {"etherpadd_enabled": True}, "did you mean etherpad_enabled?"),
    (
        "two-services-one-name",
        {"ethercalc_enabled": True, "framadate_enabled": True, "framadate_domain": "calc.chatons.example.org"},
        "calc.chatons.example.org is also the name of ethercalc",
    ),
    ("ssh-on-https-port", {"common_sshd_port": 443}, "common_sshd_port: port 443 is also nginx's HTTPS port"),
    ("ssh-on-http-port", {"common_sshd_port": 80}, "common_sshd_port: port 80 is also nginx's HTTP port"),
    (
        "ssh-on-rtmp-port",
        {"peertube_enabled": True, "common_sshd_port": 1935},
        "port 1935 is also common_sshd_port",
    ),
    ("acme-localhost", {"chaton_domain": "chaton.localhost"}, "Let's Encrypt can never issue a certificate"),
    ("acme-dot-test", {"chaton_domain": "chatons.test"}, "ends in .test"),
    (
        "acme-service-on-ip",
        {"etherpad_enabled": True, "etherpad_domain": "192.0.2.10"},
        "192.0.2.10 is an IP address",
    ),
    (
        "acme-service-single-label",
        {"etherpad_enabled": True, "etherpad_domain": "pad"},
        "pad is a single label",
    ),
    (
        "host-too-small-without-swap",
        {"etherpad_enabled": True, "chaton_host_memory_mb": 512, "common_swap_size_mb": 0},
        "disable etherpad",
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


@pytest.mark.parametrize(("case", "changes", "expected"), GATE_BAD, ids=[c[0] for c in GATE_BAD])
def test_gate_refuses_what_chaton_check_refuses(tmp_path, case, changes, expected):
    """validate.yml (so site.yml) refuses it with the very line `chaton check` prints."""
    from chaton import checks

    inventory = _inventory(tmp_path, changes)
    result = run_playbook(ROOT / "playbooks" / "validate.yml", inventory)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"{case} was accepted"
    assert expected in output, output[-3000:]
    cli = [f for f in checks.run(inventory.parent, offline=True, ansible=False) if f.level == "error"]
    assert cli, f"chaton check accepts {case}"
    for finding in cli:
        assert f"{finding.message}. Fix: {finding.fix}" in output, output[-3000:]


def test_site_refuses_a_string_boolean_before_any_change(tmp_path):
    result = run_playbook(ROOT / "site.yml", _inventory(tmp_path, {"proxy_gzip_enabled": "yes"}), "--check")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'yes' is not of type 'boolean'" in output
    assert "changed=0" in output


def test_gate_leaves_extra_variables_to_the_operator(tmp_path):
    """`-e name=value` (always strings) and the chaton command's own variables are not the inventory's.

    The gate refused `-e ethercalc_enabled=false` ("'false' is not of type 'boolean'") and chaton backup's
    backup_list_only, while the same string in the inventory is still refused (above).
    """
    inventory = _inventory(tmp_path, {})
    extra = ["-e", "ethercalc_enabled=false", "-e", "upgrade_health_retries=15", "-e", '{"backup_list_only": true}']
    result = run_playbook(ROOT / "playbooks" / "validate.yml", inventory, *extra)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    refused = run_playbook(ROOT / "playbooks" / "validate.yml", _inventory(tmp_path, {"ethercalc_enabled": "false"}))
    assert refused.returncode != 0
    assert "ethercalc_enabled: 'false' is not of type 'boolean'" in refused.stdout + refused.stderr


def test_gate_accepts_acme_names_of_a_private_acme_server(tmp_path):
    """Molecule's pebble issues for chaton.test: only Let's Encrypt's directory makes such names unissuable."""
    changes = {"chaton_domain": "chaton.test", "chaton_acme_directory": "https://127.0.0.1:14000/dir"}
    result = run_playbook(ROOT / "playbooks" / "validate.yml", _inventory(tmp_path, changes))
    assert result.returncode == 0, result.stdout[-3000:]


def test_gate_counts_swap(tmp_path):
    """512 MB and the automatic 2 GB of swap are enough for Etherpad, as the sizing advice says."""
    changes = {"etherpad_enabled": True, "chaton_host_memory_mb": 512}
    result = run_playbook(ROOT / "playbooks" / "validate.yml", _inventory(tmp_path, changes))
    assert result.returncode == 0, result.stdout[-3000:]


def test_gate_refuses_secrets_readable_by_others(tmp_path):
    inventory = _inventory(tmp_path, {})
    secrets = inventory.parent / "group_vars" / "all" / "secrets.yml"
    secrets.write_text("---\netherpad_db_password: correct-horse-battery-staple\n")
    secrets.chmod(0o644)
    result = run_playbook(ROOT / "playbooks" / "validate.yml", inventory)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{secrets}: holds secrets and others can read it (mode 0644). Fix: chmod 600 {secrets}" in output
    secrets.chmod(0o600)
    assert run_playbook(ROOT / "playbooks" / "validate.yml", inventory).returncode == 0


def test_site_names_a_variables_file_that_is_not_a_mapping(tmp_path):
    """Not Ansible's "failed to combine variables": the file, what is wrong and the fix, as chaton check says it."""
    from chaton import checks

    inventory = _inventory(tmp_path, {})
    broken = inventory.parent / "group_vars" / "all" / "vars.yml"
    broken.write_text("- chaton_domain: example.org\n")
    result = run_playbook(ROOT / "site.yml", inventory, "--check")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    [finding] = checks.run(inventory.parent, offline=True, ansible=False)
    assert f"{finding.file}: {finding.message}. Fix: {finding.fix}" in output, output[-3000:]
    assert "combine" not in output


def test_bad_case_count():
    print(f"\n{len(BAD)} bad inventories checked")
    assert len(BAD) >= 25


def _two_hosts(tmp_path, web: dict, tube: dict, addresses=("192.0.2.10", "192.0.2.11")) -> Path:
    """An association's inventory over two servers: web and tube, the services placed by host_vars."""
    directory = tmp_path / "two"
    (directory / "group_vars" / "all").mkdir(parents=True)
    (directory / "host_vars").mkdir()
    (directory / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "chaton": {"hosts": {"web": {"ansible_host": addresses[0]}, "tube": {"ansible_host": addresses[1]}}},
                "backup": {"hosts": {"borg": {"ansible_host": "192.0.2.12"}}},
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    (directory / "group_vars" / "all" / "vars.yml").write_text(yaml.safe_dump(GOOD), encoding="utf-8")
    (directory / "host_vars" / "web.yml").write_text(yaml.safe_dump(web), encoding="utf-8")
    (directory / "host_vars" / "tube.yml").write_text(yaml.safe_dump(tube), encoding="utf-8")
    return directory


def test_a_name_served_by_two_hosts_is_refused_with_the_variable_and_the_fix(tmp_path):
    from chaton import checks

    placed = _two_hosts(tmp_path, {"etherpad_enabled": True}, {"peertube_enabled": True, "portal_enabled": False})
    assert checks.check_shared_names(checks.load(placed)) == []
    # The portal on both (its default), and Etherpad too: two names served twice.
    twice = _two_hosts(tmp_path / "b", {"etherpad_enabled": True}, {"etherpad_enabled": True})
    found = checks.check_shared_names(checks.load(twice))
    assert sorted((f.host, f.variable) for f in found) == [("tube", "etherpad_enabled"), ("tube", "portal_enabled")]
    pad = next(f for f in found if f.variable == "etherpad_enabled")
    assert "pad.chatons.example.org is served by web too" in pad.message
    assert pad.file.endswith("host_vars/tube.yml") and "set etherpad_enabled: false for tube or web" in pad.fix
    # Other names (another association's host in the same inventory): no conflict.
    other = _two_hosts(tmp_path / "c", {"etherpad_enabled": True}, {"etherpad_enabled": True, "chaton_domain": "b.org"})
    assert checks.check_shared_names(checks.load(other)) == []


def test_each_name_must_resolve_to_the_host_that_serves_it(tmp_path):
    """The portal's name is checked on the host that publishes the portal only; each service's on its own host."""
    from chaton import checks

    placed = _two_hosts(
        tmp_path,
        {"etherpad_enabled": True, "etherpad_domain": "localhost"},
        {"peertube_enabled": True, "peertube_domain": "localhost", "portal_enabled": False},
        addresses=("127.0.0.1", "127.0.0.1"),
    )
    inv = checks.load(placed)
    assert checks.check_dns(inv, inv.hosts["tube"]) == []
    found = checks.check_dns(inv, inv.hosts["web"])
    assert [f.variable for f in found] == ["chatons.example.org"]
    assert "add a DNS record: chatons.example.org A/AAAA -> 127.0.0.1" in found[0].fix
    moved = _two_hosts(
        tmp_path / "b",
        {"etherpad_enabled": True, "etherpad_domain": "localhost"},
        {"portal_enabled": False},
        addresses=("192.0.2.10", "127.0.0.1"),
    )
    inv = checks.load(moved)
    pad = [f for f in checks.check_dns(inv, inv.hosts["web"]) if f.variable == "localhost"]
    assert pad and "resolves to 127.0.0.1" in pad[0].message and "-> 192.0.2.10" in pad[0].fix


def test_host_vars_of_a_host_hosts_yml_does_not_list_are_reported(tmp_path):
    """A typo in a host_vars file's name places its services on no host."""
    from chaton import checks

    placed = _two_hosts(tmp_path, {"etherpad_enabled": True}, {"portal_enabled": False})
    assert checks.check_unplaced_host_vars(checks.load(placed)) == []
    (placed / "host_vars" / "tub.yml").write_text(yaml.safe_dump({"peertube_enabled": True}), encoding="utf-8")
    (placed / "host_vars" / "old").mkdir()
    (placed / "host_vars" / "old" / "vars.yml").write_text("chaton_host_memory_mb: 2048\n", encoding="utf-8")
    found = checks.check_unplaced_host_vars(checks.load(placed))
    assert [(f.level, f.host, f.variable) for f in found] == [
        ("warning", "old", ""),
        ("error", "tub", "peertube_enabled"),
    ]
    assert "switches on peertube_enabled for tub, a host hosts.yml does not list" in found[1].message
    assert found[1].file.endswith("host_vars/tub.yml") and "(borg, tube, web)" in found[1].fix
    errors = [f for f in checks.run(placed, offline=True, ansible=False) if f.level == "error"]
    assert [f.host for f in errors] == ["tub"]


def test_two_servers_backing_up_into_one_remote_repository_are_refused(tmp_path):
    from chaton import checks

    shared = _two_hosts(tmp_path, {}, {"portal_enabled": False})
    vars_file = shared / "group_vars" / "all" / "vars.yml"
    settings = yaml.safe_load(vars_file.read_text(encoding="utf-8"))
    vars_file.write_text(
        yaml.safe_dump({**settings, "backup_remote_repository": "ssh://borg@backup.example.org/./chatons"}),
        encoding="utf-8",
    )
    found = checks.check_shared_backup_repositories(checks.load(shared))
    assert [(f.host, f.variable) for f in found] == [("tube", "backup_remote_repository")]
    assert "ssh://borg@backup.example.org/./chatons is web's remote repository too" in found[0].message
    assert found[0].file.endswith("group_vars/all/vars.yml") and "{{ inventory_hostname }}" in found[0].fix
    # One per server: in host_vars, or with the host's name in the path.
    (shared / "host_vars" / "tube.yml").write_text(
        yaml.safe_dump({"portal_enabled": False, "backup_remote_repository": "ssh://borg@backup.example.org/./tube"}),
        encoding="utf-8",
    )
    assert checks.check_shared_backup_repositories(checks.load(shared)) == []
    vars_file.write_text(
        yaml.safe_dump({**settings, "backup_remote_repository": "ssh://borg@b.example.org/./{{ inventory_hostname }}"}),
        encoding="utf-8",
    )
    (shared / "host_vars" / "tube.yml").write_text(yaml.safe_dump({"portal_enabled": False}), encoding="utf-8")
    assert checks.check_shared_backup_repositories(checks.load(shared)) == []


def test_the_portal_of_a_server_is_the_one_its_association_publishes(tmp_path):
    from chaton import checks

    inv = checks.load(_two_hosts(tmp_path, {"etherpad_enabled": True}, {"portal_enabled": False}))
    assert checks.portal_host(inv, inv.hosts["web"]) == "web"
    assert checks.portal_host(inv, inv.hosts["tube"]) == "web"
    alone = checks.load(_two_hosts(tmp_path / "b", {"portal_enabled": False}, {"chaton_domain": "b.org"}))
    assert checks.portal_host(alone, alone.hosts["web"]) is None, "another association's portal is not web's"
    assert checks.portal_host(alone, alone.hosts["tube"]) == "tube"


def test_check_needs_a_host_in_the_chaton_group(tmp_path):
    from chaton import checks

    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"srv": {}}}}), encoding="utf-8")
    found = checks.run(tmp_path, offline=True, ansible=False)
    assert [f.message for f in found] == ["no host is in the group chaton, where chaton deploys"]
