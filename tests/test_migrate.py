"""chaton migrate: sorting the addresses people give, naming them on the host, state and resume."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaton.cli import app
from chaton.migrate import Row, State, classify, paths, plan, read_sources, rows_from_results
from chaton.migrate_run import listed_addresses


@pytest.mark.parametrize(
    ("address", "service", "kind", "base", "name"),
    [
        ("https://framapad.org/p/notes-AG", "etherpad", "pad", "https://framapad.org", "notes-AG"),
        (
            "https://mypads.framapad.org/p/r%C3%A9union/timeslider#5",
            "etherpad",
            "pad",
            "https://mypads.framapad.org",
            "réunion",
        ),
        ("https://pad.example.org/p/a/export/txt", "etherpad", "pad", "https://pad.example.org", "a"),
        ("https://example.org/etherpad/p/b?lang=fr", "etherpad", "pad", "https://example.org/etherpad", "b"),
        (
            "http://127.0.0.1:9011/p/r.1234567890abcdef",
            "etherpad",
            "readonly",
            "http://127.0.0.1:9011",
            "r.1234567890abcdef",
        ),
        ("https://framacalc.org/budget-2026", "ethercalc", "sheet", "https://framacalc.org", "budget-2026"),
        ("https://framacalc.org/budget/view", "ethercalc", "sheet", "https://framacalc.org", "budget"),
        ("https://lite.framacalc.org/=classeur", "ethercalc", "workbook", "https://lite.framacalc.org", "=classeur"),
        ("https://calc.example.org/_/tableau", "ethercalc", "sheet", "https://calc.example.org", "tableau"),
    ],
)
def test_addresses_of_pads_and_sheets_are_recognised(address, service, kind, base, name):
    item = classify(address)
    assert (item.service, item.kind, item.base, item.name, item.problem) == (service, kind, base, name, "")


def test_export_addresses_are_where_each_application_gives_its_native_form():
    assert (
        classify("https://framapad.org/p/r%C3%A9union").export == "https://framapad.org/p/r%C3%A9union/export/etherpad"
    )
    assert classify("https://framacalc.org/=wb").export == "https://framacalc.org/_/=wb"
    assert classify("https://framacalc.org/x/edit").export == "https://framacalc.org/_/x"


@pytest.mark.parametrize(
    ("address", "service", "says"),
    [
        ("https://framadate.org/AbCdEfGhIjKlMnOp", "framadate", "its admin address"),
        ("https://framatube.org/w/9c9de5e8-0a1e-484a-b099-e80766180a6d", "peertube", "give the account's address"),
        ("https://videos.example.org/videos/watch/123", "peertube", "give the account's address"),
        ("https://framatube.org/a/alice@other.example", "peertube", "another PeerTube instance"),
        ("https://framapad.org/p/g.AbCdEfGhIjKlMnOp$notes", "etherpad", "group pad"),
        ("ftp://framapad.org/p/x", "unknown", "not a web address"),
        ("https://example.org/", "unknown", "not the address"),
        ("https://example.org/x/b/c", "unknown", "not the address"),
        ("https://framacalc.org/_new", "unknown", "not the address"),
    ],
)
def test_other_addresses_get_a_reason_before_any_request(address, service, says):
    item = classify(address)
    assert item.service == service
    assert item.problem.startswith(says) or says in item.problem, item.problem


def test_sources_are_read_from_addresses_and_files_of_any_text(tmp_path):
    mail = tmp_path / "mail.txt"
    mail.write_text(
        "Bonjour, mes pads : https://framapad.org/p/a, et https://framapad.org/p/b.\n"
        "# et le tableur\n<https://framacalc.org/c>\nhttps://framapad.org/p/a\n",
        encoding="utf-8",
    )
    found = read_sources(["https://framacalc.org/d", str(mail)])
    assert found == [
        "https://framacalc.org/d",
        "https://framapad.org/p/a",
        "https://framapad.org/p/b",
        "https://framacalc.org/c",
    ]
    with pytest.raises(FileNotFoundError):
        read_sources([str(tmp_path / "missing.txt")])


def items(*addresses):
    return [classify(a) for a in addresses]


def test_plan_keeps_names_and_renames_only_collisions(tmp_path):
    state = State(tmp_path / "s.json")
    batch, rows = plan(
        items(
            "https://framapad.org/p/notes",
            "https://pad.other.org/p/notes",
            "https://framacalc.org/notes",
            "https://framapad.org/p/r.0123456789abcdef",
            "https://framadate.org/AbCdEfGhIjKlMnOp",
        ),
        state,
    )
    assert [(b["service"], b["name"]) for b in batch] == [
        ("etherpad", "notes"),
        ("etherpad", "notes-2"),
        ("ethercalc", "notes"),  # another application: no collision
        ("etherpad", "readonly-0123456789abcdef"),
    ]
    assert [b["i"] for b in batch] == ["0", "1", "2", "3"]
    assert batch[3]["kind"] == "readonly" and batch[3]["export"].endswith("/p/r.0123456789abcdef/export/etherpad")
    assert [(r.service, r.status) for r in rows] == [("framadate", "not supported")]


def test_state_makes_a_second_run_import_nothing_twice_and_resumes_the_rest(tmp_path):
    path = tmp_path / "migrate-host.state.json"
    state = State(path)
    state.record(Row("https://framapad.org/p/notes", "etherpad", "imported", "https://pad.x/p/notes", "notes", 10))
    state.record(Row("https://pad.other.org/p/notes", "etherpad", "failed", name="notes-2", detail="unreachable"))
    state.record(Row("https://framacalc.org/s", "ethercalc", "refused", name="s"))
    again = State.load(path)
    assert again.done("https://framapad.org/p/notes") and not again.done("https://framacalc.org/s")
    batch, rows = plan(
        items("https://framapad.org/p/notes", "https://pad.other.org/p/notes", "https://framacalc.org/s"), again
    )
    assert [(r.source, r.status) for r in rows] == [("https://framapad.org/p/notes", "skipped")]
    assert rows[0].address == "https://pad.x/p/notes"
    # The unfinished items keep the names the first run gave them (a resumed run writes where it wrote).
    assert [(b["source"], b["name"]) for b in batch] == [
        ("https://pad.other.org/p/notes", "notes-2"),
        ("https://framacalc.org/s", "s"),
    ]
    # --force sends the done ones again, to the same name.
    batch, rows = plan(items("https://framapad.org/p/notes"), again, force=True)
    assert rows == [] and batch[0]["name"] == "notes"


def test_a_new_source_does_not_take_a_name_an_earlier_run_gave(tmp_path):
    state = State(tmp_path / "s.json")
    state.record(Row("https://a.org/p/notes", "etherpad", "imported", name="notes"))
    batch, _ = plan(items("https://b.org/p/notes"), state)
    assert batch[0]["name"] == "notes-2"


def test_workbooks_keep_their_name(tmp_path):
    state = State(tmp_path / "s.json")
    state.record(Row("https://a.org/=wb", "ethercalc", "imported", name="=wb"))
    batch, _ = plan(items("https://b.org/=wb"), state)
    assert batch[0]["name"] == "=wb"


def test_mapping_lists_only_what_is_on_the_host(tmp_path):
    state = State(tmp_path / "s.json")
    state.record(Row("https://framapad.org/p/a", "etherpad", "imported", "https://pad.x/p/a", "a"))
    state.record(Row("https://framapad.org/p/b", "etherpad", "already there", "https://pad.x/p/b", "b"))
    state.record(Row("https://framapad.org/p/c", "etherpad", "failed", detail="404"))
    state.write_mapping(tmp_path / "m.json", tmp_path / "m.csv")
    mapping = json.loads((tmp_path / "m.json").read_text())
    assert [(m["old"], m["new"]) for m in mapping] == [
        ("https://framapad.org/p/a", "https://pad.x/p/a"),
        ("https://framapad.org/p/b", "https://pad.x/p/b"),
    ]
    with (tmp_path / "m.csv").open(newline="") as f:
        assert list(csv.reader(f))[1] == ["https://framapad.org/p/a", "https://pad.x/p/a", "etherpad"]


def test_a_poll_maps_its_public_address_too(tmp_path):
    """Voters hold a poll's public address, its creator the admin one: both go to the mapping (and --redirect)."""
    old_admin = "https://framadate.org/AbCdEfGhIjKlMnOpQrStUvWx/admin"
    results = [
        {
            "i": "0",
            "source": old_admin,
            "service": "framadate",
            "status": "imported",
            "address": "https://date.x/newAdminIdOfTwentyFour01/admin",
            "public_source": "https://framadate.org/AbCdEfGhIjKlMnOp",
            "public": "https://date.x/k3YzAbCdEfGhIjKl",
        }
    ]
    state = State(tmp_path / "s.json")
    for row in rows_from_results(results, [{"i": "0", "source": old_admin, "service": "framadate"}]):
        state.record(row)
    # Read back from the state file, as a later run does.
    state = State.load(tmp_path / "s.json")
    state.write_mapping(tmp_path / "m.json", tmp_path / "m.csv")
    mapping = json.loads((tmp_path / "m.json").read_text())
    assert [(m["old"], m["new"]) for m in mapping] == [
        (old_admin, "https://date.x/newAdminIdOfTwentyFour01/admin"),
        ("https://framadate.org/AbCdEfGhIjKlMnOp", "https://date.x/k3YzAbCdEfGhIjKl"),
    ]


def test_an_item_the_playbook_did_not_report_is_failed_not_lost():
    batch = [
        {"i": "0", "source": "https://a.org/p/x", "service": "etherpad"},
        {"i": "1", "source": "https://a.org/p/y", "service": "etherpad"},
    ]
    results = [
        {
            "i": "0",
            "source": "https://a.org/p/x",
            "service": "etherpad",
            "status": "imported",
            "bytes": 12,
            "address": "https://pad.x/p/x",
            "name": "x",
            "detail": "  ",
        },
        {"i": "0-wb.1", "source": "https://a.org/wb.1", "service": "ethercalc", "status": "imported"},
    ]
    rows = rows_from_results(results, batch)
    assert [(r.source, r.status) for r in rows] == [
        ("https://a.org/p/x", "imported"),
        ("https://a.org/wb.1", "imported"),
        ("https://a.org/p/y", "failed"),
    ]
    assert rows[0].bytes == 12 and rows[0].detail == ""


def test_files_live_beside_the_inventory_directory_not_in_it(tmp_path):
    # Ansible reads every file of an inventory directory as an inventory (a CSV as an INI one).
    files = paths(tmp_path / "inventories" / "mine", "server")
    assert {p.parent for p in files.values()} == {tmp_path / "inventories" / "mine-migrate"}
    assert files["csv"].name == "server.csv" and files["state"].name == "server.state.json"


def _lists_plugin():
    path = Path(__file__).resolve().parents[1] / "plugins" / "filter" / "chaton_lists.py"
    spec = importlib.util.spec_from_file_location("chaton_lists", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_workbook_brings_its_sheets_so_they_are_not_listed_again():
    rooms = ["budget", "=trip", "trip.1", "trip.2", "notes.2026", "v1.2", "=v1", "orphan.3", ""]
    # notes.2026 is no workbook's sheet; v1.2 is =v1's; orphan.3 has no workbook and stays.
    assert _lists_plugin().ethercalc_rooms_to_move(rooms) == ["=trip", "=v1", "budget", "notes.2026", "orphan.3"]
    assert _lists_plugin().ethercalc_rooms_to_move(None) == []


def test_a_whole_host_gives_its_accounts_only_with_their_passwords():
    found = {
        "old": {
            "etherpad": ["https://pad.old.org/p/a"],
            "ethercalc": ["https://calc.old.org/b"],
            "framadate": ["https://date.old.org/AbCdEfGhIjKlMnOpQrStUvWx/admin"],
            "peertube": ["https://tube.old.org/a/alice"],
        }
    }
    without = listed_addresses(found, with_accounts=False)
    assert without == [
        "https://pad.old.org/p/a",
        "https://calc.old.org/b",
        "https://date.old.org/AbCdEfGhIjKlMnOpQrStUvWx/admin",
    ]
    assert listed_addresses(found, with_accounts=True) == [*without, "https://tube.old.org/a/alice"]
    # Each listed address is one chaton migrate takes.
    assert [classify(a).service for a in listed_addresses(found, True)] == [
        "etherpad",
        "ethercalc",
        "framadate",
        "peertube",
    ]
    assert not any(classify(a).problem for a in listed_addresses(found, True))


def test_migrate_without_any_source_says_what_to_give(tmp_path):
    result = CliRunner().invoke(app, ["migrate", str(tmp_path)])
    assert result.exit_code == 2
    assert "--from is missing" in result.output and "--from-host" in result.output


def test_only_the_chaton_hosts_of_an_inventory_receive_what_moves(tmp_path):
    """An inventory may list a backup server beside the CHATONS hosts; hosts may sit in groups under chaton, and
    then take group_vars/chaton as Ansible gives it to them."""
    from chaton.inventory import load

    (tmp_path / "hosts.yml").write_text(
        "chaton:\n  children:\n    web:\n      hosts:\n        one: {}\n  hosts:\n    two: {}\n"
        "borg:\n  hosts:\n    backup: {}\n",
        encoding="utf-8",
    )
    (tmp_path / "group_vars" / "chaton").mkdir(parents=True)
    (tmp_path / "group_vars" / "chaton" / "main.yml").write_text("chaton_domain: asso.example\n", encoding="utf-8")
    inv = load(tmp_path)
    assert sorted(inv.chaton_hosts) == ["one", "two"]
    assert inv.hosts["one"].groups == ["chaton", "web"]
    assert inv.hosts["one"].vars["chaton_domain"] == "asso.example"
    assert "chaton_domain" not in inv.hosts["backup"].vars
