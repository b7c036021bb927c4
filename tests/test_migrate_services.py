"""Framadate and PeerTube in `chaton migrate`: which addresses are polls and accounts, and reading a poll back from
its admin page.

The pages here are written by hand with only the elements the reader uses, as Framadate 1.1's admin templates
write them; the framadate scenario reads real admin pages of the deployed Framadate
(molecule/framadate/tests/test_framadate_migrate.py).
"""

import base64
import importlib.util
import json
import zipfile
from pathlib import Path

import pytest

from chaton.migrate import State, classify, plan, read_peertube_passwords, read_sources

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "filter" / "chaton_framadate.py"
spec = importlib.util.spec_from_file_location("chaton_framadate", PLUGIN)
framadate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(framadate)

ADMIN = "AbCdEfGhIjKlMnOpQrStUvWx"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def page(
    *,
    columns,
    votes,
    date=False,
    comments=(),
    rule="3",
    hidden=False,
    lang="en",
    end="2027-01-31",
    public="https://date.example.org/PuBlIcIdOfSixtEn",
):
    remove = "".join(
        f'<td><a href="https://date.example.org/{ADMIN}/admin/action/delete_column/{b64(c)}" '
        f'class="btn btn-link btn-sm remove-column"><span class="sr-only">Remove</span></a></td>'
        for c in columns
    )
    head = '<th class="bg-primary day" id="D0">Mon 1</th>' if date else ""
    titles = "".join(f'<th class="bg-info" id="C{i}" title="{c}"><p>{c}</p></th>' for i, c in enumerate(columns))
    classes = {"2": "bg-success text-success", "1": "bg-warning text-warning", "0": "bg-danger text-danger"}
    rows = "".join(
        '<tr><th class="bg-info">' + name + ' <span class="edit-username-left"><a href="#">'
        '<span class="sr-only">Edit</span></a></span></th>'
        + "".join(f'<td class="{classes.get(c, "bg-info")}" headers="C{i}"></td>' for i, c in enumerate(choices))
        + "<td></td></tr>"
        for name, choices in votes
    )
    notes = "".join(
        '<div class="comment"><button type="submit" name="delete_comment" value="1" class="btn btn-link">'
        '<span class="glyphicon glyphicon-remove text-danger"></span><span class="sr-only">Remove</span></button>'
        f'<span class="comment_date">{when}</span><b>{who}</b>&nbsp;<span>{text.replace(chr(10), "<br />" + chr(10))}'
        "</span></div>"
        for who, text, when in comments
    )
    return f"""<!DOCTYPE html><html lang="{lang}"><body>
      <input type="text" class="form-control" id="newtitle" name="title" value="Pique-nique &amp; jeux" />
      <input type="text" id="newname" name="name" value="Alice" />
      <input type="text" id="admin_mail" name="admin_mail" value="alice@example.net" />
      <textarea id="newdescription" name="description">Un *pique-nique*
&lt;b&gt;ok&lt;/b&gt;</textarea>
      <input type="text" id="newexpirationdate" name="expiration_date" value="{end}" />
      <input class="form-control" id="public-link" type="text" readonly="readonly" value="{public}"/>
      <input type="checkbox" id="hidden" name="hidden" {'checked="checked"' if hidden else ""}/>
      <select class="form-control" id="rules" name="rules">
        <option value="0">locked</option><option value="1">not editable</option>
        <option value="3"{' selected="selected"' if rule == "3" else ""}>own</option>
        <option value="2"{' selected="selected"' if rule == "2" else ""}>all</option>
      </select>
      <table class="results"><thead><tr class="hidden-print"><th role="presentation"></th>{remove}</tr>
      <tr><th role="presentation"></th>{head}{titles}</tr></thead><tbody>{rows}
      <tr id="vote-form"><td class="bg-info"><input name="name"/></td><td headers="C0"></td></tr>
      </tbody></table>
      <div id="comments_list"><form>{notes}</form></div></body></html>"""


def test_a_classic_poll_is_read_whole():
    text = page(
        columns=["Pizza", "Crêpes **bretonnes**", "Sushi, maki"],
        votes=[("Bob &amp; co", "201"), ("Chloé", "1 0")],
        comments=[("Dan", "Moi aussi\nà midi", "12/24/2026 18:05")],
    )
    read = framadate.framadate_poll(text, f"https://date.example.org/{ADMIN}/admin")
    assert read["ok"], read
    poll = read["poll"]
    assert poll["title"] == "Pique-nique & jeux"
    assert poll["description"] == "Un *pique-nique*\n<b>ok</b>"
    assert (poll["admin_name"], poll["admin_mail"], poll["end_date"]) == ("Alice", "alice@example.net", "2027-01-31")
    assert (poll["format"], poll["active"], poll["editable"], poll["hidden"]) == ("A", 1, 2, 0)
    # Raw choices (Markdown and commas kept), from the remove-column links.
    assert poll["slots"] == [
        {"title": "Pizza", "moments": None},
        {"title": "Crêpes **bretonnes**", "moments": None},
        {"title": "Sushi, maki", "moments": None},
    ]
    assert poll["votes"] == [{"name": "Bob & co", "choices": "201"}, {"name": "Chloé", "choices": "1 0"}]
    assert poll["comments"] == [{"name": "Dan", "comment": "Moi aussi\nà midi", "date": "2026-12-24 18:05:00"}]
    assert len(read["id"]) == 16 and read["id"].isalnum()
    # Where its voters find it on the source: --redirect sends them to the host.
    assert read["public"] == "https://date.example.org/PuBlIcIdOfSixtEn"


@pytest.mark.parametrize("public", ["", "javascript:alert(1)", "PuBlIcIdOfSixtEn"])
def test_a_public_link_that_is_no_web_address_is_not_taken(public):
    read = framadate.framadate_poll(page(columns=["A"], votes=[], public=public), f"https://d.org/{ADMIN}/admin")
    assert read["ok"] and read["public"] == ""


def test_a_date_poll_groups_its_moments_by_day():
    monday, tuesday = "1798761600", "1798848000"
    text = page(
        columns=[f"{monday}@10h", f"{monday}@14h", f"{tuesday}@"],
        votes=[("Eve", "220")],
        date=True,
        rule="2",
        hidden=True,
        end="31/01/2027",
        lang="fr",
    )
    poll = framadate.framadate_poll(text, "https://x/y")["poll"]
    assert poll["format"] == "D"
    assert poll["slots"] == [{"title": monday, "moments": "10h,14h"}, {"title": tuesday, "moments": ""}]
    assert (poll["editable"], poll["hidden"], poll["end_date"]) == (1, 1, "2027-01-31")


def test_an_ended_poll():
    # A classic one: its choices are read from the column headers, as text.
    classic = page(columns=["Pizza", "Sushi"], votes=[("Bob", "20")]).replace("remove-column", "gone")
    read = framadate.framadate_poll(classic, "https://x/y")
    assert read["ok"] and [s["title"] for s in read["poll"]["slots"]] == ["Pizza", "Sushi"]
    # A date one: its raw dates are nowhere on the page.
    dated = page(columns=["1798761600@10h"], votes=[], date=True).replace("remove-column", "gone")
    read = framadate.framadate_poll(dated, "https://x/y")
    assert not read["ok"] and "extend its end date" in read["problem"]


@pytest.mark.parametrize(
    "text",
    ["<html><body>Welcome to nginx!</body></html>", "", '{"pad:x": {}}'],
)
def test_what_is_not_an_admin_page_is_refused(text):
    read = framadate.framadate_poll(text, "https://x/y")
    assert not read["ok"] and "not a Framadate admin page" in read["problem"]


def test_votes_that_do_not_match_the_choices_are_refused():
    read = framadate.framadate_poll(page(columns=["A", "B"], votes=[("Bob", "201")]), "https://x/y")
    assert not read["ok"] and "Bob" in read["problem"]


def test_the_poll_id_on_the_host_follows_the_admin_address():
    one = framadate.framadate_poll_id(f"https://date.example.org/{ADMIN}/admin")
    assert one == framadate.framadate_poll_id(f"https://date.example.org/{ADMIN}/admin")
    assert one != framadate.framadate_poll_id(f"https://date.example.com/{ADMIN}/admin")
    assert len(one) == 16 and one.isalnum()


@pytest.mark.parametrize(
    ("address", "base"),
    [
        (f"https://framadate.org/{ADMIN}/admin", "https://framadate.org"),
        (f"https://framadate.org/{ADMIN}/admin/action/delete_vote/Mg", "https://framadate.org"),
        (f"https://sondage.example.org/framadate/adminstuds.php?poll={ADMIN}", "https://sondage.example.org/framadate"),
    ],
)
def test_admin_addresses_are_polls(address, base):
    item = classify(address)
    assert (item.service, item.kind, item.base, item.name, item.problem) == ("framadate", "poll", base, ADMIN, "")
    assert item.export == f"{base}/adminstuds.php?poll={ADMIN}"


@pytest.mark.parametrize(
    "address",
    [
        "https://framadate.org/AbCdEfGhIjKlMnOp",
        "https://sondage.example.org/studs.php?poll=AbCdEfGhIjKlMnOp",
        "https://sondage.example.org/exportcsv.php?poll=AbCdEfGhIjKlMnOp",
    ],
)
def test_public_poll_addresses_are_refused_with_the_reason(address):
    item = classify(address)
    assert item.service == "framadate" and "admin address" in item.problem


def test_polls_go_to_the_playbook_without_a_name(tmp_path):
    batch, rows = plan([classify(f"https://framadate.org/{ADMIN}/admin")], State(tmp_path / "s.json"))
    assert rows == [] and batch[0]["service"] == "framadate" and batch[0]["name"] == ""
    assert batch[0]["export"] == f"https://framadate.org/adminstuds.php?poll={ADMIN}"


# PeerTube accounts (the same planning, before any request).


@pytest.mark.parametrize(
    ("address", "base", "name"),
    [
        ("https://framatube.org/a/alice", "https://framatube.org", "alice"),
        ("https://framatube.org/a/alice/video-channels", "https://framatube.org", "alice"),
        ("https://videos.example.org/accounts/bob_2", "https://videos.example.org", "bob_2"),
    ],
)
def test_peertube_account_addresses(address, base, name):
    item = classify(address)
    assert (item.service, item.kind, item.base, item.name, item.problem) == ("peertube", "account", base, name, "")


def test_peertube_passwords_file(tmp_path):
    one = tmp_path / "one.txt"
    one.write_text("s3cret-pass\n", encoding="utf-8")
    assert read_peertube_passwords(one) == {"*": "s3cret-pass"}
    many = tmp_path / "many.txt"
    many.write_text("alice pass one\nbob two\n\n", encoding="utf-8")
    assert read_peertube_passwords(many) == {"alice": "pass one", "bob": "two"}


def test_a_peertube_account_goes_without_its_password_nowhere(tmp_path):
    items = [classify("https://framatube.org/a/alice"), classify("https://framatube.org/a/bob")]
    state = State(tmp_path / "s.json")
    batch, rows = plan(items, state, peertube_passwords={"alice": "pw-4f2a91"}, peertube_account="")
    assert [(b["service"], b["account"], b["name"]) for b in batch] == [("peertube", "alice", "alice")]
    assert "pw-4f2a91" not in json.dumps(batch)
    assert [(r.source, r.status) for r in rows] == [("https://framatube.org/a/bob", "failed")]
    assert "--peertube-password-file" in rows[0].detail
    batch, _ = plan(items[:1], State(tmp_path / "t.json"), peertube_passwords={"*": "x"}, peertube_account="carol")
    assert batch[0]["name"] == "carol" and batch[0]["account"] == "alice"


def test_a_peertube_archive_file_names_its_account(tmp_path):
    good = tmp_path / "alice-archive.zip"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("peertube/account.json", json.dumps({"name": "alice", "displayName": "Alice"}))
        archive.writestr("peertube/videos.json", json.dumps({"videos": []}))
    other = tmp_path / "photos.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("a.jpg", b"...")
    assert read_sources([str(good), "https://framatube.org/a/bob"]) == [str(good), "https://framatube.org/a/bob"]
    item = classify(str(good))
    assert (item.service, item.kind, item.name, item.export) == ("peertube", "archive", "alice", str(good))
    assert "not a PeerTube account archive" in classify(str(other)).problem
    # An archive needs no password: its person gave it.
    batch, rows = plan([item], State(tmp_path / "s.json"), peertube_account="carol")
    assert rows == [] and (batch[0]["name"], batch[0]["archive"]) == ("carol", True)
