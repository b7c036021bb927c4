"""`chaton migrate` from an EtherCalc as its users know it to the host: formulas, formats and workbooks.

The source is a second process of the installed EtherCalc with upstream's defaults on port 8001, on the same
Redis server in a database index of its own (REDIS_DB), as a transient unit. The file's name sorts it before
test_ethercalc.py, whose last tests remove EtherCalc.
"""

import json
import os
import shlex
import uuid
from pathlib import Path

import pytest

from chaton.migrate import paths
from chaton.testing import chaton_run, curl, ethercalc_cell

SOURCE = "http://127.0.0.1:8001"
UNIT = "chaton-migrate-calc-source"
RUN = uuid.uuid4().hex[:8]
SHEET, BOOK = f"budget{RUN}", f"book{RUN}"
FORMULAS = {"C2": "A2*B2", "C3": "A3*B3", "C4": "SUM(C2:C3)", "D2": "ROUND(C4/3,2)"}
CSV = "Article,Prix,Total\n3,2.5,\n4,10,\n"


def send(host, url: str, method: str, kind: str, body: str) -> str:
    """An HTTP request to EtherCalc inside the instance; its status code."""
    out = curl(
        host,
        url,
        "-X",
        method,
        "-H",
        f"Content-Type: {kind}",
        "--data-binary",
        body,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    )
    return out.stdout


def put(host, url: str, body: str, kind: str) -> str:
    return send(host, url, "PUT", kind, body)


def command(host, url: str, cmd: str) -> str:
    return send(host, url, "POST", "text/plain", cmd)


def source_cell(host, sheet: str, cell: str) -> dict:
    out = curl(host, f"{SOURCE}/_/{sheet}/cells/{cell}")
    return json.loads(out.stdout) if out.stdout.startswith("{") else {}


@pytest.fixture(scope="module")
def source(host):
    show = host.check_output("systemctl show -p Environment -p EnvironmentFiles -p ExecStart ethercalc")
    node = show.split("path=", 1)[1].split(" ;", 1)[0]
    script = show.split("argv[]=", 1)[1].split(" ;", 1)[0].split()[1]
    environment = [e for e in show.split("Environment=", 1)[1].splitlines()[0].split() if e.startswith("REDIS_")]
    env_file = show.split("EnvironmentFiles=", 1)[1].split(" ", 1)[0]
    options = " ".join(f"-E {shlex.quote(e)}" for e in environment)
    started = host.run(
        f"systemctl stop {UNIT} 2>/dev/null; systemctl reset-failed {UNIT} 2>/dev/null;"
        f" systemd-run --unit={UNIT} --uid=ethercalc --gid=ethercalc -p EnvironmentFile={env_file} {options}"
        f" -E REDIS_DB=1 {node} {script} --host 127.0.0.1 --port 8001"
        f" && for i in $(seq 60); do curl -fsS {SOURCE}/_exists/probe 2>/dev/null && exit 0; sleep 1; done;"
        f" journalctl -u {UNIT} --no-pager -n 30; exit 1"
    )
    assert started.rc == 0, started.stdout[-3000:] + started.stderr[-2000:]
    # A sheet with formulas and a format, then a workbook of two sheets and its index, as the multi-sheet
    # page makes them (/=name lists /name.1, /name.2).
    assert put(host, f"{SOURCE}/_/{SHEET}", CSV, "text/csv") == "201"
    for cell, formula in FORMULAS.items():
        assert command(host, f"{SOURCE}/_/{SHEET}", f"set {cell} formula {formula}") == "202"
    assert command(host, f"{SOURCE}/_/{SHEET}", "set C4 nontextvalueformat #,##0.00") == "202"
    assert put(host, f"{SOURCE}/_/{BOOK}.1", "Mois,Dépense\nJanvier,120\nFévrier,80\n", "text/csv") == "201"
    assert command(host, f"{SOURCE}/_/{BOOK}.1", "set B4 formula SUM(B2:B3)") == "202"
    assert put(host, f"{SOURCE}/_/{BOOK}.2", "Note\n7\n", "text/csv") == "201"
    assert command(host, f"{SOURCE}/_/{BOOK}.2", "set A3 formula A2*6") == "202"
    # The index where EtherCalc reads it (GET /_/=name reads the key %3Dname).
    index = f'#url,#title\n"/{BOOK}.1","Dépenses"\n"/{BOOK}.2","Notes"\n'
    assert put(host, f"{SOURCE}/_/%253D{BOOK}", index, "text/csv") == "201"
    assert f"/{BOOK}.2" in curl(host, f"{SOURCE}/_/={BOOK}").stdout
    assert source_cell(host, SHEET, "C4").get("datavalue") == 47.5
    yield
    host.run(f"systemctl stop {UNIT}")


def inventory() -> str:
    return os.environ["MOLECULE_INVENTORY_FILE"]


def test_migrate_brings_sheets_and_workbooks_with_their_formulas(host, source, tmp_path):
    listing = tmp_path / "addresses.txt"
    listing.write_text(f"{SOURCE}/{SHEET}\n{SOURCE}/={BOOK}\n{SOURCE}/no-such-sheet{RUN}\n", encoding="utf-8")
    code, output, seconds = chaton_run("migrate", inventory(), "--from", str(listing))
    print(f"chaton migrate: {seconds:.0f} s")
    state = paths(Path(inventory()).parent, host.backend.get_hostname())["state"]
    rows = json.loads(state.read_text())["rows"]
    assert code == 1, output  # the missing sheet
    assert rows[f"{SOURCE}/{SHEET}"]["status"] == "imported", output
    assert rows[f"{SOURCE}/={BOOK}"]["status"] == "imported", output
    assert rows[f"{SOURCE}/{BOOK}.1"]["status"] == "imported", output
    assert rows[f"{SOURCE}/{BOOK}.2"]["status"] == "imported", output
    assert "404" in rows[f"{SOURCE}/no-such-sheet{RUN}"]["detail"], output
    assert rows[f"{SOURCE}/{SHEET}"]["address"] == f"https://calc.chaton.test/{SHEET}"
    # The host recomputes the same values from the same formulas, with the format kept.
    for cell in ("C2", "C3", "C4", "D2"):
        on_host = ethercalc_cell(host, SHEET, cell)
        assert on_host.get("formula") == FORMULAS[cell], (cell, on_host)
        assert on_host.get("datavalue") == source_cell(host, SHEET, cell)["datavalue"], (cell, on_host)
    assert ethercalc_cell(host, SHEET, "C4")["datavalue"] == 47.5
    assert ethercalc_cell(host, SHEET, "C4").get("nontextvalueformat") is not None
    assert ethercalc_cell(host, f"{BOOK}.1", "B4")["datavalue"] == 200
    assert ethercalc_cell(host, f"{BOOK}.2", "A3")["datavalue"] == 42
    index = curl(host, f"http://127.0.0.1:8000/_/={BOOK}")
    assert f"/{BOOK}.2" in index.stdout, index.stdout[:2000]


def test_a_second_run_imports_no_sheet_twice(host, source, tmp_path):
    listing = tmp_path / "addresses.txt"
    listing.write_text(f"{SOURCE}/{SHEET}\n", encoding="utf-8")
    code, output, _ = chaton_run("migrate", inventory(), "--from", str(listing))
    assert code == 0 and "1 skipped" in output, output
    # A sheet the host already has with other content is left alone without --force.
    assert command(host, f"{SOURCE}/_/{SHEET}", "set A2 value n 5") == "202"
    state = paths(Path(inventory()).parent, host.backend.get_hostname())["state"]
    state.unlink()
    code, output, _ = chaton_run("migrate", inventory(), "--from", str(listing))
    rows = json.loads(state.read_text())["rows"]
    assert code == 1 and rows[f"{SOURCE}/{SHEET}"]["status"] == "refused", output
    assert ethercalc_cell(host, SHEET, "C2")["datavalue"] == 7.5
