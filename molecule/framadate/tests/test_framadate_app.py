"""Framadate itself, driven as a user through the HTTPS proxy (needs the artifacts in the mirror)."""

import email
import email.policy
import re
import shlex
import time

import pytest
from conftest import APP, LIBRARIES

from chaton.testing import FramadateBrowser as Browser
from chaton.testing import curl, pebble_root, restart_instance, secret
from chaton.testing import framadate_create_and_vote as create_and_vote

if not APP:
    # Molecule passes test files explicitly, so conftest's collect_ignore is not enough.
    pytest.skip("framadate: artifacts not in the mirror (see the converge's SKIPPED line)", allow_module_level=True)

DOMAIN = "date.chaton.test"
BASE = f"https://{DOMAIN}"
SINK = "/var/lib/smtp-sink-test"
RESOLVE = f"{DOMAIN}:443:127.0.0.1"  # /etc/hosts is rewritten by docker on an instance restart


@pytest.fixture(scope="module")
def root(host):
    return pebble_root(host)


def mails_to(host, address, timeout=60):
    for _ in range(timeout):
        found = host.run(f"grep -l -r {shlex.quote(address)} {SINK}/new")
        if found.rc == 0:
            return [
                email.message_from_string(host.file(path).content_string, policy=email.policy.default)
                for path in found.stdout.split()
            ]
        time.sleep(1)
    return []


def body(message) -> str:
    part = message.get_body(preferencelist=("html", "plain"))
    return part.get_content()


@pytest.fixture(scope="module")
def polls(host, root):
    stamp = int(time.time())
    return {
        "en": create_and_vote(host, root, "en", f"Lunch poll {stamp}", f"alice-en-{stamp}@example.net"),
        "fr": create_and_vote(host, root, "fr", f"Sondage déjeuner {stamp}", f"alice-fr-{stamp}@example.net"),
    }


def assert_poll_intact(host, root, poll):
    reader = Browser(host, root, "reader")
    page = reader.get(f"/{poll['poll_id']}")
    assert poll["title"] in page
    assert "Bob Voter" in page
    csv = reader.get(f"/exportcsv.php?poll={poll['poll_id']}")
    assert "Bob Voter" in csv and "Pizza" in csv and "Crêpes" in csv, csv


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_vote_reads_back_on_the_page_and_in_csv(host, root, polls, lang):
    assert_poll_intact(host, root, polls[lang])


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_creator_mail_links_to_the_real_host(host, polls, lang):
    poll = polls[lang]
    messages = mails_to(host, poll["mail"])
    assert messages, f"no mail to {poll['mail']} reached the sink"
    texts = [body(m) for m in messages]
    assert any(f"{BASE}/{poll['admin_id']}/admin" in t for t in texts), texts
    subjects = " ".join(str(m["Subject"]) for m in messages)
    if lang == "fr":
        assert "sondage" in (subjects + " ".join(texts)).lower()


def test_french_pages_are_french(host, root, polls):
    reader = Browser(host, root, "reader-fr")
    reader.post("/", [("lang", "fr")])
    page = reader.get(f"/{polls['fr']['poll_id']}")
    assert 'lang="fr"' in page


def test_admin_needs_the_generated_password(host, root):
    anonymous = curl(host, f"{BASE}/admin/", "--resolve", RESOLVE, "-o", "/dev/null", "-w", "%{http_code}", cacert=root)
    assert anonymous.stdout == "401"
    password = secret("framadate_admin_password")
    admin = curl(
        host, f"{BASE}/admin/", "--resolve", RESOLVE, "-u", f"admin:{password}", "-w", "\n%{http_code}", cacert=root
    )
    assert admin.stdout.endswith("\n200")
    assert "polls.php" in admin.stdout


@pytest.mark.parametrize(
    "path",
    [
        "/app/inc/config.php",
        "/app/inc/init.php",
        "/vendor/autoload.php",
        "/vendor/sabre/vobject/lib/Component.php",
        "/tpl/studs.tpl",
        "/tpl_c/",
        "/composer.json",
        "/htaccess.txt",
        "/admin/install.php",
        "/admin/stdout.log",
        "/scripts/packaging.php",
        "/buildlang.php",
    ],
)
def test_internals_are_unreachable(host, root, path):
    password = secret("framadate_admin_password")
    for auth in ([], ["-u", f"admin:{password}"]):
        result = curl(
            host, BASE + path, "--resolve", RESOLVE, *auth, "-o", "/dev/null", "-w", "%{http_code}", cacert=root
        )
        assert result.stdout in {"401", "403", "404"}, f"{path} answered {result.stdout}"


def test_migrations_are_idempotent(host):
    again = host.run(
        "cd /var/www/framadate/current && SERVER_NAME=date.chaton.test SERVER_PORT=443 HTTPS=on "
        "SCRIPT_NAME=/admin/migration.php runuser -u framadate -- php admin/migration.php"
    )
    assert again.rc == 0
    skipped = re.search(r'label-info">\s*(\d*) / (\d+)', again.stdout)
    assert skipped and skipped.group(1) == skipped.group(2), again.stdout[-1500:]
    # The role's checked wrapper (also the upgrade block's migration step) agrees.
    script = host.run("/usr/local/sbin/chaton-framadate-migrate")
    assert script.rc == 0 and script.stdout.strip() == "migrations applied: 0", script.stdout + script.stderr


def test_pool_runs_as_framadate_and_writes_only_its_paths(host, root, polls):
    Browser(host, root, "warm").get("/")
    users = set(host.check_output("ps -o user= -C php-fpm8.2,php-fpm8.4").split())
    assert users == {"framadate"}, users
    assert host.file("/var/www/framadate/current/tpl_c").is_symlink
    assert host.file("/var/www/framadate/current/app/inc/config.php").user == "root"
    assert host.run("runuser -u framadate -- touch /var/www/framadate/current/x").rc != 0


@pytest.mark.parametrize("unit", ["php-fpm-framadate", "mariadb"])
def test_poll_survives_a_service_restart(host, root, polls, unit):
    assert host.run(f"systemctl restart {unit}").rc == 0
    assert_poll_intact(host, root, polls["en"])


def test_poll_survives_an_instance_restart(host, root, polls):
    restart_instance(host)
    assert_poll_intact(host, root, polls["en"])
    assert_poll_intact(host, root, polls["fr"])


def test_report_idle_memory(host):
    time.sleep(35)  # ondemand workers stop after 30 s idle
    report = host.check_output(
        "for p in $(pgrep -f 'php-fpm|mariadbd'); do "
        "printf '%s %s ' $p \"$(tr '\\0' ' ' </proc/$p/cmdline | cut -c1-40)\"; "
        'awk \'/^Rss:/{r=$2}/^Pss:/{s=$2}END{print "RSS=" r "kB PSS=" s "kB"}\' /proc/$p/smaps_rollup; done'
    )
    print("idle memory:\n" + report)


def test_the_libraries_are_those_of_the_mode(host):
    """debian: Debian's Smarty and PHPMailer; bundled: upstream's vendor/ (Smarty 4.0.0, PHPMailer 6.5.3)."""
    code = "/var/www/framadate/current"
    versions = host.check_output(
        "runuser -u framadate -- php -r "
        + shlex.quote(
            f"require '{code}/vendor/autoload.php'; echo Smarty::SMARTY_VERSION, ' ', "
            "PHPMailer\\PHPMailer\\PHPMailer::VERSION;"
        )
    ).split()
    smarty = host.file(f"{code}/vendor/smarty/smarty/libs")
    if LIBRARIES == "bundled":
        assert versions == ["4.0.0", "6.5.3"]
        assert not smarty.is_symlink
        assert host.file(f"{code}/vendor/composer/installed.json").exists
        # Upstream zips 0750/0640: the role makes the code readable, and writable by root only.
        assert host.check_output(f"find {code}/ ! -type l \\( ! -perm -0004 -o -perm /0022 \\) -print") == ""
    else:
        assert smarty.linked_to == "/usr/share/php/smarty4"
        assert versions[0] != "4.0.0" and versions[1] != "6.5.3"
