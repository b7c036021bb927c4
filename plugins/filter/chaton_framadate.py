"""Read a Framadate poll from its admin page (Framadate 1.1), for playbooks/migrate.yml.

Framadate has no export that keeps a poll whole (its CSV gives the votes with translated words and the
choices as rendered text), and no import at all. Its admin page, which the poll's creator holds the
address of, shows every part of it; this filter reads that page back into the poll's database fields:

- title, creator's name and mail, description (raw Markdown: the edit fields of the admin page);
- the rules (votes locked, not editable, editable by their own voter, by all) and whether votes are
  hidden;
- the end date (the edit field, in the page's language format: ``%Y-%m-%d`` or ``%d/%m/%Y``);
- the choices, raw: each "remove the column" link carries its column's value base64url-encoded
  (``title`` of a classic poll, ``<unix day>@<moment>`` of a date poll). An ended poll shows no such
  link: a classic poll's choices are then read from the column headers (as text), a date poll is refused;
- the votes: one row per voter, one cell per column (yes 2, if need be 1, no 0, blank);
- the comments: name, text (line breaks kept) and date (the page's language format);
- the poll's public address on the source (the admin page's "public link" field), which `--redirect`
  sends to the public address on the host.

The poll's password is not shown anywhere (only its hash is kept): a poll that had one is moved without.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import html.parser
import re
import urllib.parse

# The cell classes of a vote, as Framadate 1.1 writes them.
CHOICES = {"bg-success": "2", "bg-warning": "1", "bg-danger": "0"}
# The rules select of the admin page: (active, editable).
RULES = {"0": (0, 0), "1": (1, 0), "2": (1, 1), "3": (1, 2)}
# Date formats of the languages of Framadate 1.1 (locale/*.json "DATE" and "DATETIME").
DATETIME_FORMATS = {
    "ar": "%m/%d/%Y %H:%M",
    "ca": "%m/%d/%Y %H:%M",
    "en": "%m/%d/%Y %H:%M",
    "de": "%Y-%m-%d %H:%M",
    "br": "%d-%m-%Y %H:%M",
}
# The admin page's fields read as they are: poll, creator, end date, and the poll's public address.
FIELDS = ("newtitle", "newname", "admin_mail", "newexpirationdate", "public-link")
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class _Page(html.parser.HTMLParser):
    """Collect what the admin page shows of the poll."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = ""
        self.fields: dict[str, str] = {}
        self.checked: set[str] = set()
        self.rule = ""
        self.columns: list[str] = []  # raw values of the remove-column links
        self.headers: list[str] = []  # text of the classic column headers (an ended poll has no links)
        self.is_date = False
        self.votes: list[dict] = []
        self.comments: list[dict] = []
        self._stack: list[str] = []
        self._text: list[str] | None = None  # collecting into this
        self._textarea = ""
        self._select = ""
        self._header = False
        self._row: dict | None = None
        self._name_done = False
        self._comment: dict | None = None
        self._comment_part = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = set(a.get("class", "").split())
        if tag == "html":
            self.lang = a.get("lang", "")[:2].lower()
        elif tag == "input" and a.get("id") in (
            "newtitle",
            "newname",
            "admin_mail",
            "newexpirationdate",
            "public-link",
        ):
            self.fields[a["id"]] = a.get("value", "")
        elif tag == "input" and a.get("id") in ("hidden", "resultsPubliclyVisible") and "checked" in a:
            self.checked.add(a["id"])
        elif tag == "textarea" and a.get("id") == "newdescription":
            self._textarea = "newdescription"
            self._text = []
        elif tag == "select" and a.get("id") == "rules":
            self._select = "rules"
        elif tag == "option" and self._select == "rules" and "selected" in a:
            self.rule = a.get("value", "")
        elif tag == "a" and "remove-column" in classes:
            self.columns.append(_column_value(a.get("href", "")))
        elif tag == "th" and "day" in classes and "bg-primary" in classes:
            self.is_date = True
        elif tag == "th" and re.fullmatch(r"C[0-9]+", a.get("id", "")):
            self._header = True
            self._text = []
        elif tag == "tr":
            self._row = {"name": None, "choices": ""}
            self._name_done = False
        elif tag == "th" and self._row is not None and "bg-info" in classes and self._row["name"] is None:
            self._row["name"] = ""
            self._text = []
        elif tag == "td" and self._row is not None and self._row["name"] is not None and "headers" in a:
            found = [CHOICES[c] for c in classes if c in CHOICES]
            self._row["choices"] += found[0] if found else " "
        elif tag == "div" and "comment" in classes:
            self._comment = {"name": "", "comment": "", "date": ""}
        elif self._comment is not None and tag in ("b", "span"):
            if tag == "span" and "comment_date" in classes:
                self._comment_part = "date"
            elif tag == "b":
                self._comment_part = "name"
            elif tag == "span" and "sr-only" not in classes and "glyphicon" not in " ".join(classes):
                self._comment_part = "comment"
            else:
                self._comment_part = ""
            self._text = []
        if self._row is not None and self._row["name"] is not None and tag in ("span", "a") and self._text is not None:
            # The edit link after a voter's name is not part of it.
            self._name_done = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea:
            self.fields[self._textarea] = "".join(self._text or [])
            self._textarea, self._text = "", None
        elif tag == "select":
            self._select = ""
        elif tag == "th" and self._header:
            self.headers.append(" ".join("".join(self._text or []).split()))
            self._header, self._text = False, None
        elif tag == "th" and self._row is not None and self._text is not None:
            self._row["name"] = "".join(self._text).strip()
            self._text = None
        elif tag == "tr" and self._row is not None:
            if self._row["name"] is not None and self._row["choices"]:
                self.votes.append(self._row)
            self._row = None
        elif self._comment is not None and tag in ("b", "span") and self._comment_part:
            self._comment[self._comment_part] = "".join(self._text or [])
            self._comment_part, self._text = "", None
        elif tag == "div" and self._comment is not None:
            self.comments.append(
                {
                    "name": self._comment["name"].strip(),
                    # nl2br keeps the line breaks after each <br />: the text is the comment.
                    "comment": self._comment["comment"].replace("\r\n", "\n"),
                    "date": " ".join(self._comment["date"].split()),
                }
            )
            self._comment = None

    def handle_data(self, data: str) -> None:
        # A voter's name ends where the edit link after it starts.
        if self._text is not None and (not self._name_done or self._row is None):
            self._text.append(data)


def _column_value(href: str) -> str:
    """The raw value a remove-column link carries (base64url, in the path or in ?delete_column=)."""
    parsed = urllib.parse.urlsplit(href)
    query = urllib.parse.parse_qs(parsed.query)
    default = parsed.path.rstrip("/").rsplit("/", 1)[-1]
    encoded = query["delete_column"][0] if "delete_column" in query else default
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def _end_date(text: str) -> str:
    """The end date (YYYY-MM-DD) of the edit field: %Y-%m-%d or %d/%m/%Y."""
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.datetime.strptime(text.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    return ""


def _comment_date(text: str, lang: str) -> str:
    fmt = DATETIME_FORMATS.get(lang, "%d/%m/%Y %H:%M")
    try:
        return datetime.datetime.strptime(text.strip(), fmt).strftime("%Y-%m-%d %H:%M:00")
    except ValueError:
        return ""


def framadate_poll_id(source: str) -> str:
    """The poll's public id on the host: derived from the source's admin address, so a second run finds the poll
    it made (only who holds that admin address can compute it), 16 characters of Framadate's alphabet."""
    digest = hashlib.sha256(source.strip().encode("utf-8")).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:16])


def framadate_poll(page: str, source: str = "") -> dict:
    """The poll an admin page shows: {ok, problem, id, poll: {...database fields, slots, votes, comments}}."""
    read = _read(page)
    read["id"] = framadate_poll_id(source) if source else ""
    return read


def _read(page: str) -> dict:
    p = _Page()
    p.feed(page)
    p.close()
    if "newtitle" not in p.fields:
        return {"ok": False, "problem": "not a Framadate admin page: the address answers, not as Framadate 1.1 does"}
    slots: list[dict] = []
    columns = [c for c in p.columns if c]
    if p.is_date:
        if not columns:
            return {
                "ok": False,
                "problem": "the poll has ended on the source, whose admin page then hides its dates: extend its "
                "end date there and run again",
            }
        for value in columns:
            day, _, moment = value.partition("@")
            if not day.isdigit():
                return {"ok": False, "problem": f"a column of the date poll is not a date: {value[:60]}"}
            if slots and slots[-1]["title"] == day:
                slots[-1]["moments"] += "," + moment
            else:
                slots.append({"title": day, "moments": moment})
        width = len(columns)
    else:
        titles = columns or p.headers
        slots = [{"title": t, "moments": None} for t in titles]
        width = len(titles)
    if width == 0:
        return {"ok": False, "problem": "the poll's admin page shows no choice"}
    bad = [v["name"] for v in p.votes if len(v["choices"]) != width]
    if bad:
        return {"ok": False, "problem": f"the votes of {bad[0]!r} do not match the {width} choices shown"}
    active, editable = RULES.get(p.rule, (1, 1))
    poll = {
        "title": p.fields["newtitle"],
        "description": p.fields.get("newdescription", "").replace("\r\n", "\n"),
        "admin_name": p.fields.get("newname", ""),
        "admin_mail": p.fields.get("admin_mail", ""),
        "end_date": _end_date(p.fields.get("newexpirationdate", "")),
        "format": "D" if p.is_date else "A",
        "editable": editable,
        "active": active,
        "hidden": int("hidden" in p.checked),
        "results_publicly_visible": int("resultsPubliclyVisible" in p.checked),
        "slots": slots,
        "votes": [{"name": v["name"], "choices": v["choices"]} for v in p.votes],
        "comments": [
            {"name": c["name"], "comment": c["comment"], "date": _comment_date(c["date"], p.lang)} for c in p.comments
        ],
    }
    return {"ok": True, "problem": "", "poll": poll, "public": _public_address(p.fields.get("public-link", ""))}


def _public_address(value: str) -> str:
    """The source's public address of the poll, when the page shows one that is an http(s) address."""
    value = value.strip()
    return value if urllib.parse.urlsplit(value).scheme in ("http", "https") else ""


class FilterModule:
    def filters(self):
        return {"framadate_poll": framadate_poll, "framadate_poll_id": framadate_poll_id}
