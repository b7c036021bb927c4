"""`chaton migrate` of a Framadate poll from its admin address: poll, choices, votes and comments on the host; and
`--redirect`, the source host (chaton's) answering 301 from each moved address to the new one.

The source is the deployed Framadate itself, answering a second time on loopback over plain HTTP (a server block
of the test, without the proxy's short addresses: the admin page is read through adminstuds.php): the migrated
poll is a new poll of the same Framadate, compared with its source through Framadate's own pages and tables.
"""

import json
import os
import re
import shlex
from pathlib import Path

import pytest
from conftest import APP

from chaton.migrate import paths
from chaton.testing import FramadateBrowser as Browser
from chaton.testing import (
    chaton_run,
    curl,
    framadate_read_poll,
    host_trusts_itself,
    location,
    run_playbook,
    saved_pebble_root,
)
from chaton.testing import framadate_create_and_vote as create_and_vote

if not APP:
    pytest.skip("framadate: artifacts not in the mirror (see the converge's SKIPPED line)", allow_module_level=True)

SOURCE = "http://127.0.0.1:8090"
SITE = "/etc/nginx/conf.d/chaton-migrate-source.conf"
COMMENT = "Je préfère\nles crêpes <b>au beurre</b>"


@pytest.fixture(scope="module")
def root(host):
    # The app tests restarted the instance: the root that signed nginx's certificates is the saved one.
    return saved_pebble_root(host)


@pytest.fixture(scope="module")
def source(host):
    site = """server {
    listen 127.0.0.1:8090;
    root /var/www/framadate/current;
    location ~ \\.php$ {
        include snippets/fastcgi-php.conf;
        fastcgi_pass unix:/run/php-fpm-framadate/php-fpm.sock;
    }
}
"""
    written = host.run(f"printf %s {shlex.quote(site)} > {SITE} && nginx -t && systemctl reload nginx")
    assert written.rc == 0, written.stderr
    yield SOURCE
    host.run(f"rm -f {SITE} && systemctl reload nginx")


def sql(host, query: str, poll_id: str) -> list[list[str]]:
    """Rows of a query on Framadate's tables for one poll (its id checked: letters and digits only)."""
    assert re.fullmatch(r"[A-Za-z0-9]{16}", poll_id)
    out = host.check_output(
        f"mysql --default-character-set=utf8mb4 -N -B framadate -e {shlex.quote(query.replace('POLL', repr(poll_id)))}"
    )
    return [line.split("\t") for line in out.splitlines()]


def inventory() -> str:
    return os.environ["MOLECULE_INVENTORY_FILE"]


def files(host) -> dict[str, Path]:
    return paths(Path(inventory()).parent, host.backend.get_hostname())


def migrate(host, tmp_path, *addresses) -> tuple[int, str, dict]:
    listing = tmp_path / "polls.txt"
    listing.write_text("Mes sondages :\n" + "\n".join(addresses) + "\n", encoding="utf-8")
    code, output, seconds = chaton_run("migrate", inventory(), "--from", str(listing))
    print(f"chaton migrate: {seconds:.0f} s")
    rows = json.loads(files(host)["state"].read_text())["rows"] if files(host)["state"].is_file() else {}
    return code, output, rows


@pytest.fixture(scope="module")
def poll(host, root):
    """A classic poll with two votes and a comment of two lines, made through Framadate's forms."""
    made = create_and_vote(host, root, "fr", "Sondage à déménager", "alice-migrate@example.net")
    chloe = Browser(host, root, "migrate-chloe")
    chloe.vote(made["poll_id"], "Chloé", "120")
    answer = chloe.post("/action/add_comment.php", [("poll", made["poll_id"]), ("name", "Dan"), ("comment", COMMENT)])
    assert '"result":true' in answer.replace(" ", ""), answer[:500]
    return made


@pytest.fixture(scope="module")
def date_poll(host, root):
    """A date poll of two days (two moments, then one) made through Framadate's forms in English, one vote."""
    alice = Browser(host, root, "migrate-date")
    alice.start_poll("en", "date", "Assemblée générale", "alice-date@example.net", "Quand ?", "2")
    step2 = alice.post(
        "/create_date_poll.php",
        [
            ("days[]", "2027-03-01"),
            ("horaires0[]", "10h"),
            ("horaires0[]", "14h"),
            ("days[]", "2027-03-02"),
            ("horaires1[]", "soir"),
            ("choixheures", "Next"),
        ],
    )
    enddate = re.search(r'name="enddate" value="([0-9/.-]+)"', step2)
    assert enddate, step2[-2000:]
    step3 = alice.post(
        "/create_date_poll.php", [("enddate", enddate.group(1)), ("confirmation", "confirmation")], headers=True
    )
    admin_id = re.fullmatch(r"https://date\.chaton\.test/([A-Za-z0-9]{24})/admin", location(step3)).group(1)
    alice.vote(admin_id[:16], "Bob Voter", "210")
    return {"admin_id": admin_id, "poll_id": admin_id[:16]}


def test_migrate_brings_a_poll_with_its_votes_and_comments(host, root, source, poll, date_poll, tmp_path):
    for path in files(host).values():
        path.unlink(missing_ok=True)
    admin_address = f"{source}/{poll['admin_id']}/admin"
    missing = f"{source}/adminstuds.php?poll=ZZZZZZZZZZZZZZZZZZZZZZZZ"
    public = f"{source}/studs.php?poll={poll['poll_id']}"
    dates = f"{source}/adminstuds.php?poll={date_poll['admin_id']}"
    code, output, rows = migrate(host, tmp_path, admin_address, dates, missing, public)
    assert code == 1, output  # two addresses were not migrated
    assert {src: row["status"] for src, row in rows.items()} == {
        admin_address: "imported",
        dates: "imported",
        missing: "failed",
        public: "not supported",
    }, output
    assert "not a Framadate admin page" in rows[missing]["detail"]
    assert "admin address" in rows[public]["detail"]
    row = rows[admin_address]
    found = re.fullmatch(r"https://date\.chaton\.test/([A-Za-z0-9]{24})/admin", row["address"])
    assert found, row
    new_admin = found.group(1)
    new_id = new_admin[:16]
    assert new_id != poll["poll_id"] and f"https://date.chaton.test/{new_id}" in row["detail"]
    # Through Framadate's own pages: the same title, choices and votes (its CSV export), and the comment.
    _, old_csv = framadate_read_poll(host, root, poll["poll_id"])
    new_page, new_csv = framadate_read_poll(host, root, new_id)
    assert new_csv == old_csv and "Bob Voter" in new_csv and "Chloé" in new_csv, new_csv
    assert poll["title"] in new_page and "Dan" in new_page and "au beurre" in new_page
    admin_page = Browser(host, root, "migrate-admin").get(f"/{new_admin}/admin")
    assert poll["title"] in admin_page and "alice-migrate@example.net" in admin_page
    # In its tables: every field Framadate's forms wrote, every vote and comment with its date.
    for query in (
        "SELECT title, description, admin_name, admin_mail, end_date, format, editable, hidden, active"
        " FROM fd_poll WHERE id = POLL",
        "SELECT title, COALESCE(moments, 'NULL') FROM fd_slot WHERE poll_id = POLL ORDER BY id",
        "SELECT name, choices FROM fd_vote WHERE poll_id = POLL ORDER BY id",
        "SELECT name, HEX(comment), DATE_FORMAT(date, '%Y-%m-%d %H:%i') FROM fd_comment WHERE poll_id = POLL"
        " ORDER BY id",
    ):
        old = sql(host, query, poll["poll_id"])
        assert old and sql(host, query, new_id) == old, query
    # The date poll: each day with its moments, the vote over the three columns.
    new_dates = rows[dates]["address"].split("/")[-2][:16]
    for query in (
        "SELECT title, moments FROM fd_slot WHERE poll_id = POLL ORDER BY id",
        "SELECT name, choices FROM fd_vote WHERE poll_id = POLL ORDER BY id",
        "SELECT format, editable, end_date FROM fd_poll WHERE id = POLL",
    ):
        old = sql(host, query, date_poll["poll_id"])
        assert old and sql(host, query, new_dates) == old, query
    assert [
        moments for _, moments in sql(host, "SELECT title, moments FROM fd_slot WHERE poll_id = POLL", new_dates)
    ] == [
        "10h,14h",
        "soir",
    ]
    # The mapping a host sends its users: old admin address, new admin address.
    mapping = json.loads(files(host)["json"].read_text())
    assert {"old": admin_address, "new": row["address"], "service": "framadate"} in mapping


def test_a_second_run_writes_no_poll_twice(host, source, poll, tmp_path):
    admin_address = f"{source}/{poll['admin_id']}/admin"
    count = "SELECT COUNT(*) FROM fd_poll WHERE id <> POLL"
    before = sql(host, count, poll["poll_id"])
    code, output, rows = migrate(host, tmp_path, admin_address)
    assert code == 0 and re.search(r"\b1 skipped\b", output), output
    # Without the state file (lost, or another controller): the host finds the poll it made.
    files(host)["state"].unlink()
    code, output, rows = migrate(host, tmp_path, admin_address)
    assert code == 0, output
    assert rows[admin_address]["status"] == "already there", output
    assert sql(host, count, poll["poll_id"]) == before


@pytest.fixture
def trusted(host, root):
    """The host downloads from its own HTTPS site, as from another chaton host with a real certificate."""
    with host_trusts_itself(host, root, "date.chaton.test"):
        yield


def status_and_location(host, root, path: str) -> tuple[str, str]:
    result = curl(
        host,
        f"https://date.chaton.test{path}",
        "--resolve",
        "date.chaton.test:443:127.0.0.1",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        cacert=root,
    )
    assert result.rc == 0, result.stderr
    code, _, where = result.stdout.partition(" ")
    return code, where


def test_redirect_makes_the_source_answer_301_to_the_new_address(host, root, trusted, tmp_path):
    """A poll moved from a chaton host (here the host itself, over HTTPS) with --redirect naming that host's
    inventory: its old admin address, and the paths under it, answer 301 to the new ones; so does its old public
    address (what its voters hold), to the new public one."""
    made = create_and_vote(host, root, "en", "Poll that moves away", "alice-redirect@example.net")
    old = f"https://date.chaton.test/{made['admin_id']}/admin"
    listing = tmp_path / "polls.txt"
    listing.write_text(old + "\n", encoding="utf-8")
    code, output, _ = chaton_run("migrate", inventory(), "--from", str(listing), "--redirect", inventory())
    assert code == 0, output
    rows = json.loads(files(host)["state"].read_text())["rows"]
    new = rows[old]["address"]
    assert rows[old]["status"] == "imported" and new != old, rows[old]
    assert "answer 301" in output, output
    assert status_and_location(host, root, f"/{made['admin_id']}/admin") == ("301", new)
    assert status_and_location(host, root, f"/{made['admin_id']}/admin/action/delete_vote/MQ") == (
        "301",
        f"{new}/action/delete_vote/MQ",
    )
    assert status_and_location(host, root, new.removeprefix("https://date.chaton.test"))[0] == "200"
    new_public = rows[old]["public"]
    assert rows[old]["public_source"] == f"https://date.chaton.test/{made['poll_id']}", rows[old]
    assert re.fullmatch(r"https://date\.chaton\.test/[A-Za-z0-9]{16}", new_public), rows[old]
    assert status_and_location(host, root, f"/{made['poll_id']}") == ("301", new_public)
    mapping = json.loads(files(host)["json"].read_text())
    assert {"old": rows[old]["public_source"], "new": new_public, "service": "framadate"} in mapping
    reader_sees, _ = framadate_read_poll(host, root, new_public.rsplit("/", 1)[-1])
    assert "Poll that moves away" in reader_sees
    assert status_and_location(host, root, "/")[0] == "200"
    # The redirects follow the mapping given: none left, none answered; a second run changes nothing.
    out, _ = run_playbook("playbooks/redirect.yml", ["-e", '{"redirect_mapping": []}'])
    assert re.search(r"changed=[1-9]", out), out[-2000:]
    assert status_and_location(host, root, f"/{made['admin_id']}/admin")[0] == "200"
    out, _ = run_playbook("playbooks/redirect.yml", ["-e", '{"redirect_mapping": []}'])
    assert "changed=0" in out, out[-2000:]
