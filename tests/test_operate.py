"""What `chaton deploy` and `chaton status` tell a volunteer about where the credentials are."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from chaton import operate
from chaton.cli import app
from chaton.inventory import load

runner = CliRunner()
INIT = ["--name", "Les Chatons", "--domain", "chatons.example.org", "--email", "admin@example.org"]


def test_credentials_point_at_the_inventory_file_that_sets_them(tmp_path):
    target = tmp_path / "mine"
    args = [*INIT, "--host", "192.0.2.10", "--services", "etherpad", "--admin", "camille"]
    assert runner.invoke(app, ["init", str(target), *args]).exit_code == 0
    inv = load(target)
    host = inv.hosts["server"]
    where = operate._credentials(inv, host, ["etherpad_admin_password", "etherpad_api_key"], "/secrets/server")
    assert where == f"etherpad_admin_password, etherpad_api_key: {target / 'group_vars' / 'all' / 'secrets.yml'}"


def test_credentials_generated_on_the_controller_or_hidden_in_a_vault(tmp_path):
    target = tmp_path / "mine"
    args = [*INIT, "--host", "192.0.2.10", "--services", "", "--admin", "camille"]
    assert runner.invoke(app, ["init", str(target), *args]).exit_code == 0
    inv = load(target)
    where = operate._credentials(inv, inv.hosts["server"], ["etherpad_admin_password"], "/secrets/server")
    assert where == "etherpad_admin_password: /secrets/server/"
    password = tmp_path / "vault-password"
    password.write_text("correct horse battery staple\n")
    vaulted = tmp_path / "vaulted"
    vault_args = [*args[:5], "etherpad", *args[6:], "--vault-password-file", str(password)]
    assert runner.invoke(app, ["init", str(vaulted), *vault_args]).exit_code == 0
    inv = load(vaulted)
    where = operate._credentials(inv, inv.hosts["server"], ["etherpad_admin_password"], "/secrets/server")
    assert where.startswith("etherpad_admin_password: /secrets/server/ unless set in ")
    assert where.endswith("secrets.yml")


def test_a_restore_is_limited_to_a_host_of_the_group_chaton(tmp_path):
    from test_validate import _two_hosts

    from chaton import checks

    inv = checks.load(_two_hosts(tmp_path, {"etherpad_enabled": True}, {"peertube_enabled": True}))
    assert operate.restore_limit(inv, None) is None
    assert operate.restore_limit(inv, "tube") == "tube"
    with pytest.raises(ValueError, match=r"--host borg is not a host of the group chaton \(tube, web\)"):
        operate.restore_limit(inv, "borg")
