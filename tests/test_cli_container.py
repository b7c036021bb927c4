"""`chaton deploy` and `chaton status` against a real systemd container from the harness."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.harness

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_host(tmp_path_factory):
    if os.environ.get("CHATON_SKIP_HARNESS_TESTS"):
        pytest.skip("CHATON_SKIP_HARNESS_TESTS is set")
    os.environ["CHATON_DEMO_CONTAINER"] = "chaton-clitest"
    os.environ["CHATON_DEMO_HTTPS_PORT"] = "18443"
    os.environ["CHATON_DEMO_HTTP_PORT"] = "18080"
    from chaton import demo

    importlib.reload(demo)
    subprocess.run(["docker", "rm", "-f", demo.CONTAINER], capture_output=True, check=False)
    demo.ensure_container("12", print)
    directory = tmp_path_factory.mktemp("clitest") / "inventory"
    inventory = demo.write_inventory(directory, services=[])
    yield demo, inventory
    subprocess.run(["docker", "rm", "-f", demo.CONTAINER], capture_output=True, check=False)
    shutil.rmtree(directory, ignore_errors=True)


def test_deploy_shows_progress_and_summary_then_status_is_healthy(demo_host):
    from chaton.cli import app

    demo, inventory = demo_host
    deployed = runner.invoke(app, ["deploy", str(inventory.parent)])
    assert deployed.exit_code == 0, deployed.output[-3000:]
    assert "deploying" in deployed.output
    assert "Deployed" in deployed.output
    ca = inventory.parent / "secrets" / demo.CONTAINER / "ca.crt"
    assert ca.is_file()
    status = runner.invoke(app, ["status", str(inventory.parent), "--json"])
    assert status.exit_code == 0, status.output
    assert '"healthy": true' in status.output
    assert "chaton.localhost" in status.output


def test_the_demo_inventory_works_as_printed(demo_host, tmp_path):
    """`chaton check`/`status`/`audit <inventory>` with no option, as the demo prints them; the port is kept."""
    from chaton.cli import app

    demo, inventory = demo_host
    port = demo.HTTPS_PORT
    check = runner.invoke(app, ["check", str(inventory.parent)])
    assert check.exit_code == 0, check.output
    status = runner.invoke(app, ["status", str(inventory.parent), "--json"])
    assert status.exit_code == 0, status.output
    assert f"https://chaton.localhost:{port}/" in status.output
    redirect = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{redirect_url}", "-H", "Host: chaton.localhost",
         f"http://127.0.0.1:{demo.HTTP_PORT}/fr/about.html"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert redirect.stdout == f"https://chaton.localhost:{port}/fr/about.html"
    ca = inventory.parent / "secrets" / demo.CONTAINER / "ca.crt"
    own_ca = {"en": "this host\u2019s own certificate authority", "fr": "l\u2019autorit\u00e9 de certification"}
    for lang, words in own_ca.items():
        page = subprocess.run(
            ["curl", "-sSf", "--cacert", str(ca), "--resolve", f"chaton.localhost:{port}:127.0.0.1",
             f"https://chaton.localhost:{port}/{lang}/about.html"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert words in page and "Let\u2019s Encrypt" not in page
    organization = subprocess.run(
        ["curl", "-sSf", "--cacert", str(ca), "--resolve", f"chaton.localhost:{port}:127.0.0.1",
         f"https://chaton.localhost:{port}/.well-known/chatonsinfos/organization.properties"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"organization.website = https://chaton.localhost:{port}/" in organization
    report = tmp_path / "audit.md"
    runner.invoke(app, ["audit", str(inventory.parent), "--no-host-checks", "--report", str(report)])
    text = report.read_text()
    assert f"https://chaton.localhost:{port}/" in text
    assert "https://chaton.localhost/" not in text


def test_status_fails_when_a_service_is_down(demo_host):
    from chaton.cli import app

    demo, inventory = demo_host
    subprocess.run(["docker", "exec", demo.CONTAINER, "systemctl", "stop", "nginx"], check=True)
    try:
        status = runner.invoke(app, ["status", str(inventory.parent)])
        assert status.exit_code == 1
    finally:
        subprocess.run(["docker", "exec", demo.CONTAINER, "systemctl", "start", "nginx"], check=True)


def test_deploy_reports_the_failed_task_and_the_command_to_rerun(demo_host, tmp_path):
    from chaton.cli import app

    _demo, inventory = demo_host
    broken = inventory.parent / "group_vars" / "all" / "broken.yml"
    broken.write_text("---\ncommon_apt_mirror: http://127.0.0.1:9/debian\n")
    try:
        result = runner.invoke(app, ["deploy", str(inventory.parent)])
    finally:
        broken.unlink()
    assert result.exit_code == 1
    assert "FAILED on chaton-clitest" in result.output
    assert f"chaton deploy {inventory.parent}" in result.output
