"""chaton backup / restore: what the volunteer types is checked before anything runs."""

from __future__ import annotations

from typer.testing import CliRunner

from chaton.cli import app

runner = CliRunner()


def test_restore_refuses_an_unknown_repository_before_running_anything(tmp_path):
    result = runner.invoke(
        app, ["restore", str(tmp_path / "nowhere"), "--service", "ethercalc", "--repository", "elsewhere"]
    )
    assert result.exit_code == 2
    assert "--repository must be auto, local or remote" in result.output


def test_restore_names_the_repositories_it_can_read():
    result = runner.invoke(app, ["restore", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--repository" in result.output and "auto" in result.output and "remote" in result.output
