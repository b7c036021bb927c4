"""The nginx lines that make a source host answer 301 for the addresses `chaton migrate` moved.

nginx itself reads them in the framadate scenario (test_redirect_makes_the_source_answer_301_to_the_new_address).
"""

import importlib.util
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "filter" / "chaton_redirects.py"
spec = importlib.util.spec_from_file_location("chaton_redirects", PLUGIN)
redirects = importlib.util.module_from_spec(spec)
spec.loader.exec_module(redirects)

ADMIN = "AbCdEfGhIjKlMnOpQrStUvWx"
MAPPING = [
    {"old": "https://pad.old.org/p/notes.ag", "new": "https://pad.new.org/p/notes.ag", "service": "etherpad"},
    {"old": "https://calc.old.org/budget", "new": "https://calc.new.org/budget", "service": "ethercalc"},
    {"old": f"https://date.old.org/{ADMIN}/admin", "new": "https://date.new.org/X/admin", "service": "framadate"},
    {"old": f"https://date.old.org/adminstuds.php?poll={ADMIN}", "new": "https://date.new.org/Y/admin"},
    {"old": "https://pad.elsewhere.org/p/notes", "new": "https://pad.new.org/p/notes-2", "service": "etherpad"},
]


def test_a_pad_answers_301_for_itself_and_the_paths_under_it():
    text = redirects.nginx_redirects(MAPPING, "pad.old.org")
    assert text.splitlines() == [
        'location = "/p/notes.ag" { return 301 "https://pad.new.org/p/notes.ag"; }',
        'location ~ "^/p/notes\\.ag(/.*)$" { return 301 "https://pad.new.org/p/notes.ag$1$is_args$args"; }',
    ]


def test_only_the_addresses_of_the_site_are_taken():
    assert redirects.nginx_redirects(MAPPING, "calc.old.org").count("location") == 2
    assert "elsewhere" not in redirects.nginx_redirects(MAPPING, "pad.old.org")
    assert redirects.nginx_redirects(MAPPING, "nothing.old.org") == ""
    assert redirects.nginx_redirects([], "pad.old.org") == ""


def test_a_poll_given_by_its_script_address_is_redirected_by_its_short_one():
    entries = redirects.redirect_entries(MAPPING, "date.old.org")
    # Both name the same poll: one location, the later mapping entry wins.
    assert entries == [(f"/{ADMIN}/admin", "https://date.new.org/Y/admin")]


def test_an_address_moved_onto_itself_is_never_redirected():
    mapping = [{"old": "https://pad.old.org/p/notes", "new": "https://pad.old.org/p/notes/"}]
    assert redirects.nginx_redirects(mapping, "pad.old.org") == ""


def test_a_public_poll_address_of_either_form_is_redirected_by_its_short_one():
    public = "AbCdEfGhIjKlMnOp"
    mapping = [
        {"old": f"https://date.old.org/studs.php?poll={public}", "new": "https://date.new.org/Z"},
        {"old": "https://date.old.org/studs.php?poll=short", "new": "https://date.new.org/W"},
        {"old": f"https://date.old.org/other.php?poll={public}", "new": "https://date.new.org/V"},
    ]
    assert redirects.redirect_entries(mapping, "date.old.org") == [(f"/{public}", "https://date.new.org/Z")]
    # The paths under it (a voter's /vote/<id>) follow.
    assert f'location ~ "^/{public}(/.*)$"' in redirects.nginx_redirects(mapping, "date.old.org")


def test_names_nginx_would_read_otherwise_get_an_exact_match_or_nothing():
    mapping = [
        {"old": "https://pad.old.org/p/r%C3%A9union%20du%20lundi", "new": "https://pad.new.org/p/r%C3%A9union"},
        {"old": 'https://pad.old.org/p/a"b', "new": "https://pad.new.org/p/x"},
        {"old": "https://pad.old.org/p/cost", "new": 'https://pad.new.org/p/$host"; }'},
        {"old": "https://pad.old.org/", "new": "https://pad.new.org/"},
        {"old": "https://pad.old.org/p/z", "new": "javascript:alert(1)"},
    ]
    lines = redirects.nginx_redirects(mapping, "pad.old.org").splitlines()
    # A name with spaces or accents: exact match only, quoted.
    assert 'location = "/p/réunion du lundi" { return 301 "https://pad.new.org/p/r%C3%A9union"; }' in lines
    # A quote in the old path: left out; the new address cannot bring a variable or a quote; "/" is never moved.
    assert not any('a"b' in line for line in lines)
    assert 'location = "/p/cost" { return 301 "https://pad.new.org/p/%24host%22;%20%7D"; }' in lines
    assert not any('"/"' in line or "javascript" in line for line in lines)
