"""The chaton command as a volunteer uses it: init, then check, in temporary directories."""

from __future__ import annotations

import json
import stat

import pytest
import yaml
from conftest import inventory_with, write_inventory
from test_validate import BAD, GATE_BAD, GOOD
from typer.testing import CliRunner

from chaton.cli import app

runner = CliRunner()

INIT = [
    "--name",
    "Les Chatons",
    "--domain",
    "chatons.example.org",
    "--email",
    "admin@example.org",
    "--host",
    "127.0.0.1",
    "--services",
    "",
    "--admin",
    "camille",
]

# Mistakes only the command catches (on top of every case of test_validate.BAD).
CLI_BAD = [
    ("service-typo", {"etherpadd_enabled": True}, "etherpadd_enabled"),
    ("variable-typo", {"chaton_domian": "example.org"}, "chaton_domian"),
    ("common-variable-typo", {"common_admin_user": []}, "common_admin_user"),
    ("proxy-variable-typo", {"proxy_hsts_maxage": 10}, "proxy_hsts_maxage"),
    ("hsts-not-a-number", {"proxy_hsts_max_age": "two years"}, "proxy_hsts_max_age"),
    ("gzip-not-a-boolean", {"proxy_gzip_enabled": "maybe"}, "proxy_gzip_enabled"),
    ("admin-state-unknown", {"common_admin_users": [{"name": "camille", "state": "gone"}]}, "common_admin_users"),
    ("host-too-small", {"chaton_host_memory_mb": 128, "common_swap_size_mb": 0}, "chaton_host_memory_mb"),
    ("disk-too-small", {"chaton_host_disk_mb": 500}, "chaton_host_disk_mb"),
    ("port-clash", {"ethercalc_enabled": True, "etherpad_enabled": True, "ethercalc_port": 9001}, "port 9001"),
    (
        "name-clash",
        {"ethercalc_enabled": True, "framadate_enabled": True, "framadate_domain": "calc.chatons.example.org"},
        "calc.chatons.example.org is also",
    ),
    ("service-switch-not-boolean", {"etherpad_enabled": "yes please"}, "etherpad_enabled"),
    ("block-variable-typo", {"mail_relay_hots": "smtp.example.org"}, "mail_relay_hots"),
]


def _check(tmp_path, changes):
    inventory = inventory_with(tmp_path, GOOD, changes)
    return runner.invoke(app, ["check", str(inventory.parent), "--offline", "--json"])


def test_init_then_check_passes(tmp_path):
    target = tmp_path / "inventories" / "mine"
    result = runner.invoke(app, ["init", str(target), *INIT])
    assert result.exit_code == 0, result.output
    secrets = target / "group_vars" / "all" / "secrets.yml"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert yaml.safe_load((target / "group_vars" / "all" / "chaton.yml").read_text())["chaton_domain"] == (
        "chatons.example.org"
    )
    assert "secrets/" in (target / ".gitignore").read_text()
    check = runner.invoke(app, ["check", str(target), "--offline"])
    assert check.exit_code == 0, check.output


def test_init_without_a_terminal_names_the_missing_option(tmp_path):
    """A script (no terminal) gets one line naming the option, not a prompt's 'Aborted.'."""
    result = runner.invoke(app, ["init", str(tmp_path / "inv"), "--name", "Les Chatons"])
    assert result.exit_code == 2
    assert "--domain is missing: give --domain" in result.output
    assert not (tmp_path / "inv").exists()


def test_init_with_an_empty_service_list_enables_none(tmp_path):
    """`--services ""` is an answer (a base host, no service), not a missing option."""
    target = tmp_path / "inv"
    args = ["--name", "Les Chatons", "--domain", "chatons.example.org", "--email", "admin@example.org"]
    result = runner.invoke(app, ["init", str(target), *args, "--host", "192.0.2.10", "--services", ""])
    assert result.exit_code == 0, result.output
    settings = yaml.safe_load((target / "group_vars" / "all" / "services.yml").read_text())
    assert settings["etherpad_enabled"] is False
    assert not {k for k, v in settings.items() if k.endswith("_enabled") and v}


def test_init_on_the_server_itself_needs_no_address(tmp_path):
    target = tmp_path / "inv"
    args = ["--name", "Les Chatons", "--domain", "chatons.example.org", "--email", "admin@example.org"]
    result = runner.invoke(app, ["init", str(target), *args, "--services", "etherpad", "--connection", "local"])
    assert result.exit_code == 0, result.output
    hosts = yaml.safe_load((target / "hosts.yml").read_text())
    assert hosts["chaton"]["hosts"]["server"]["ansible_connection"] == "local"


def test_init_never_overwrites_without_force(tmp_path):
    target = tmp_path / "mine"
    assert runner.invoke(app, ["init", str(target), *INIT]).exit_code == 0
    before = (target / "group_vars" / "all" / "chaton.yml").read_text()
    again = runner.invoke(app, ["init", str(target), *INIT[:3], "other.example.org", *INIT[4:]])
    assert again.exit_code == 1
    assert "--force" in again.output
    assert (target / "group_vars" / "all" / "chaton.yml").read_text() == before
    forced = runner.invoke(app, ["init", str(target), *INIT[:3], "other.example.org", *INIT[4:], "--force"])
    assert forced.exit_code == 0
    assert "other.example.org" in (target / "group_vars" / "all" / "chaton.yml").read_text()


def test_init_encrypts_secrets_with_a_vault_password(tmp_path):
    password = tmp_path / "vault-password"
    password.write_text("correct horse battery staple\n")
    target = tmp_path / "mine"
    result = runner.invoke(app, ["init", str(target), *INIT, "--vault-password-file", str(password)])
    assert result.exit_code == 0, result.output
    secrets = (target / "group_vars" / "all" / "secrets.yml").read_text()
    assert secrets.startswith("$ANSIBLE_VAULT;1.1;AES256")
    assert runner.invoke(app, ["check", str(target), "--offline"]).exit_code == 0


def test_init_for_a_local_container_with_a_company_proxy_ca(tmp_path):
    ca = tmp_path / "proxy-ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    target = tmp_path / "mine"
    args = [*INIT[:7], "chaton-try", *INIT[8:10], "--connection", "docker", "--extra-ca", str(ca)]
    result = runner.invoke(app, ["init", str(target), *args])
    assert result.exit_code == 0, result.output
    hosts = yaml.safe_load((target / "hosts.yml").read_text())["chaton"]["hosts"]
    assert hosts == {"chaton-try": {"ansible_connection": "community.docker.docker", "ansible_host": "chaton-try"}}
    group = {}
    for name in ("chaton.yml", "common.yml"):
        group.update(yaml.safe_load((target / "group_vars" / "all" / name).read_text()))
    assert group["chaton_extra_ca_certificates"] == [str(ca)]
    assert group["common_allow_no_admin"] is True
    assert runner.invoke(app, ["check", str(target), "--offline"]).exit_code == 0


def test_init_refuses_a_missing_ca_file_and_an_unknown_connection(tmp_path):
    missing = runner.invoke(app, ["init", str(tmp_path / "a"), *INIT, "--extra-ca", str(tmp_path / "nope.crt")])
    assert missing.exit_code == 2 and "nope.crt" in missing.output
    unknown = runner.invoke(app, ["init", str(tmp_path / "b"), *INIT, "--connection", "telnet"])
    assert unknown.exit_code == 2 and "ssh, local or docker" in unknown.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_init_refuses_an_unknown_service(tmp_path):
    args = list(INIT)
    args[args.index("--services") + 1] = "etherpadd"
    result = runner.invoke(app, ["init", str(tmp_path / "mine"), *args])
    assert result.exit_code == 2
    assert not (tmp_path / "mine").exists()


def test_init_places_services_on_two_servers_and_check_passes(tmp_path):
    """The portal and the light services on the first server, PeerTube on a second one."""
    from chaton import checks

    target = tmp_path / "two"
    args = list(INIT)
    args[args.index("--services") + 1] = "etherpad,ethercalc"
    result = runner.invoke(
        app, ["init", str(target), *args, "--second-services", "peertube", "--second-host", "192.0.2.11"]
    )
    assert result.exit_code == 0, result.output
    hosts = yaml.safe_load((target / "hosts.yml").read_text())["chaton"]["hosts"]
    assert hosts["server"]["ansible_host"] == "127.0.0.1" and hosts["server2"]["ansible_host"] == "192.0.2.11"
    inv = checks.load(target)
    placed = {name: checks.enabled_services(host) for name, host in inv.chaton_hosts.items()}
    assert placed == {"server": ["ethercalc", "etherpad"], "server2": ["peertube"]}
    assert inv.hosts["server2"].vars["portal_enabled"] is False
    assert "portal_enabled" not in inv.hosts["server"].vars
    assert any(k.startswith("peertube_") for k in yaml.safe_load((target / "group_vars/all/secrets.yml").read_text()))
    check = runner.invoke(app, ["check", str(target), "--offline"])
    assert check.exit_code == 0, check.output


def test_init_refuses_a_service_on_both_servers_or_a_second_server_without_services(tmp_path):
    args = list(INIT)
    args[args.index("--services") + 1] = "etherpad,peertube"
    both = runner.invoke(
        app, ["init", str(tmp_path / "a"), *args, "--second-services", "peertube", "--second-host", "b"]
    )
    assert both.exit_code == 2 and "peertube is in --services and --second-services" in both.output
    idle = runner.invoke(app, ["init", str(tmp_path / "b"), *INIT, "--second-host", "192.0.2.11"])
    assert idle.exit_code == 2 and "--second-host without --second-services" in idle.output
    nowhere = runner.invoke(app, ["init", str(tmp_path / "c"), *INIT, "--second-services", "peertube"])
    assert nowhere.exit_code == 2 and "--second-host is missing" in nowhere.output
    assert not any((tmp_path / name).exists() for name in "abc")


def test_check_rejects_yaml_that_is_not_a_mapping(tmp_path):
    inventory = write_inventory(tmp_path / "inv", GOOD)
    (inventory.parent / "group_vars" / "all" / "vars.yml").write_text("- chaton_domain: example.org\n")
    result = runner.invoke(app, ["check", str(inventory.parent), "--offline", "--json"])
    assert result.exit_code == 1
    assert "not a mapping" in result.output


def test_check_rejects_a_missing_inventory(tmp_path):
    result = runner.invoke(app, ["check", str(tmp_path / "nowhere"), "--offline"])
    assert result.exit_code == 1
    assert "chaton init" in result.output


ALL_BAD = BAD + GATE_BAD + CLI_BAD


@pytest.mark.parametrize(("case", "changes", "expected"), ALL_BAD, ids=[c[0] for c in ALL_BAD])
def test_check_rejects_bad_inventory(tmp_path, case, changes, expected):
    result = _check(tmp_path, changes)
    assert result.exit_code == 1, f"{case} was accepted:\n{result.output}"
    report = json.loads(result.output)
    assert not report["ok"]
    text = json.dumps(report["findings"]) + "\n".join(
        f"{f['variable']}: {f['message']}. Fix: {f['fix']}" for f in report["findings"]
    )
    assert expected in text, text


def test_bad_inventory_count():
    count = len(ALL_BAD) + 2  # plus the not-a-mapping and missing-inventory cases
    print(f"\nchaton check rejects {count} bad inventories")
    assert count >= 30


def test_init_always_creates_the_secrets_folder(tmp_path):
    """Without --connection, and into a directory that already exists: secrets/ is there, mode 0700."""
    for target in (tmp_path / "new", tmp_path / "existing"):
        if target.name == "existing":
            target.mkdir()
        result = runner.invoke(app, ["init", str(target), *INIT])
        assert result.exit_code == 0, result.output
        assert (target / "secrets").is_dir()
        assert stat.S_IMODE((target / "secrets").stat().st_mode) == 0o700


def test_deploy_runs_the_checks_first_and_changes_nothing(tmp_path):
    """A typo'd variable stops `chaton deploy` before any connection (the host 203.0.113.10 is never reached)."""
    inventory = inventory_with(tmp_path, GOOD, {"chaton_domian": "example.org"})
    result = runner.invoke(app, ["deploy", str(inventory.parent)])
    assert result.exit_code == 1, result.output
    assert "did you mean chaton_domain?" in result.output
    assert "Nothing was changed" in result.output
    assert "deploying" not in result.output


def test_deploy_refuses_secrets_readable_by_others(tmp_path):
    inventory = inventory_with(tmp_path, GOOD, {})
    secrets = inventory.parent / "group_vars" / "all" / "secrets.yml"
    secrets.write_text("---\netherpad_db_password: correct-horse-battery-staple\n")
    secrets.chmod(0o644)
    result = runner.invoke(app, ["deploy", str(inventory.parent)])
    assert result.exit_code == 1
    assert "chmod 600" in result.output and "mode 0644" in result.output


def test_check_says_what_it_did_not_check(tmp_path):
    inventory = inventory_with(tmp_path, GOOD, {})
    result = runner.invoke(app, ["check", str(inventory.parent), "--offline"])
    assert result.exit_code == 0, result.output
    assert "memory not checked" in result.output and "disk not checked" in result.output
    sized = runner.invoke(
        app, ["check", str(inventory.parent), "--offline", "--memory-mb", "2048", "--disk-mb", "9000"]
    )
    assert sized.exit_code == 0 and "not checked" not in sized.output


def test_check_names_the_option_a_size_came_from(tmp_path):
    inventory = inventory_with(tmp_path, GOOD, {"etherpad_enabled": True, "common_swap_size_mb": 0})
    result = runner.invoke(app, ["check", str(inventory.parent), "--offline", "--json", "--memory-mb", "512"])
    assert result.exit_code == 1
    finding = next(f for f in json.loads(result.output)["findings"] if f["variable"] == "chaton_host_memory_mb")
    assert finding["file"] == "--memory-mb"


def test_documented_host_size_variables_are_known(tmp_path):
    """docs/volunteer tells volunteers to set chaton_host_memory_mb and chaton_host_disk_mb."""
    inventory = inventory_with(tmp_path, GOOD, {"chaton_host_memory_mb": 2048, "chaton_host_disk_mb": 20000})
    result = runner.invoke(app, ["check", str(inventory.parent), "--offline"])
    assert result.exit_code == 0, result.output
    assert "passes every check" in result.output and "not checked" not in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["backup", "chaton-demo"],
        ["backup", "chaton-demo", "--list"],
        ["restore", "chaton-demo", "--service", "etherpad"],
        ["status", "chaton-demo"],
        ["audit", "chaton-demo"],
        ["deploy", "chaton-demo"],
    ],
    ids=lambda c: "-".join(c[:1]),
)
def test_a_host_name_where_an_inventory_is_expected_is_one_clear_line(command):
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "chaton-demo: is not an inventory" in result.output
    assert "give the inventory's directory" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_help_shows_no_type_beside_flags():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert "--version" in result.output and "<bool>" not in result.output
    init = runner.invoke(app, ["init", "--help"], env={"COLUMNS": "100"})
    assert "<bool>" not in init.output and "<str>" in init.output


def test_demo_commands_run_as_printed(tmp_path, monkeypatch):
    """The demo's "inventory of your own" command needs no prompt, and its inventory passes the checks."""
    import shlex

    from chaton import demo

    monkeypatch.chdir(tmp_path)
    lines = demo.next_steps(tmp_path / "demo" / "inventory", ["etherpad"])
    assert "chaton status demo/inventory" in lines[0]
    assert "chaton audit demo/inventory" in lines[1]
    command = shlex.split(lines[2].split(": ", 1)[1])
    assert command[:2] == ["chaton", "init"]
    result = runner.invoke(app, command[1:], input="")  # a prompt would read an empty answer and fail
    assert result.exit_code == 0, result.output
    assert "Association name" not in result.output
    check = runner.invoke(app, ["check", command[2], "--offline"])
    assert check.exit_code == 0, check.output


def test_the_demo_inventory_passes_chaton_check(tmp_path):
    from chaton import demo

    inventory = demo.write_inventory(tmp_path / "inventory", services=["etherpad", "ethercalc"])
    result = runner.invoke(app, ["check", str(inventory.parent), "--offline", "--json"])
    assert result.exit_code == 0, result.output
    group = yaml.safe_load((inventory.parent / "group_vars" / "all" / "demo.yml").read_text())
    assert group["chaton_public_https_port"] == demo.HTTPS_PORT
    assert group["chaton_status_address"] == "127.0.0.1"


def test_skipped_lines_are_never_cut(monkeypatch, tmp_path):
    """The demo's and the harness's SKIPPED lines stay one line each, however narrow the terminal."""
    import io

    from rich.console import Console

    from chaton import cli, demo

    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=60))
    monkeypatch.setenv("CHATON_ARTIFACT_MIRROR", str(tmp_path))
    chosen = demo.available_services(cli.say)
    skipped = out.getvalue().splitlines()
    assert skipped and len(skipped) + len(chosen) == len(demo.specs.services())
    assert all(line.startswith("SKIPPED ") and line.endswith("make demo") for line in skipped), skipped


def test_deploy_names_a_variables_file_that_is_not_a_mapping(tmp_path):
    """Ansible would stop on "failed to combine variables"; chaton says which file and how to write it."""
    inventory = write_inventory(tmp_path / "inv", GOOD)
    broken = inventory.parent / "group_vars" / "all" / "vars.yml"
    broken.write_text("- chaton_domain: example.org\n")
    result = runner.invoke(app, ["deploy", str(inventory.parent)])
    assert result.exit_code == 2, result.output
    assert f"{broken}: holds a list, not a mapping of variables" in result.output
    assert "write one 'variable: value' per line" in result.output
    assert "Traceback" not in result.output and "combine" not in result.output
