"""What Framadate runs on, tested with or without the application: MariaDB, mail relay, PHP-FPM pool, nginx."""

import email
import shlex
import time

import pytest
from conftest import APP

from chaton.testing import PEBBLE_ROOT, assert_check_mode_clean, curl, pebble_root, secret

DOMAIN = "date.chaton.test"
SINK = "/var/lib/smtp-sink-test"
RESOLVE = f"{DOMAIN}:443:127.0.0.1"  # /etc/hosts is rewritten by docker on an instance restart


@pytest.fixture(scope="module")
def root(host):
    # Pebble forgets its root when the instance restarts (the app tests restart it): keep the root
    # saved before, which signed the certificate nginx serves.
    if host.file(PEBBLE_ROOT).exists:
        return PEBBLE_ROOT
    return pebble_root(host)


@pytest.fixture(scope="module")
def php(host):
    return host.check_output("php -r 'echo PHP_MAJOR_VERSION.\".\".PHP_MINOR_VERSION;'")


def test_check_mode_reports_no_change_on_converged_host():
    # The service's play (the base host's check mode is the base scenario's); without its application, the
    # whole host, which is then mostly what this scenario converged.
    assert_check_mode_clean(only="framadate" if APP else None)


def test_mariadb_listens_on_loopback_only(host):
    listening = host.check_output("ss -Hltn")
    assert "127.0.0.1:3306" in listening
    assert "0.0.0.0:3306" not in listening and "*:3306" not in listening
    assert "innodb_buffer_pool_size = 64M" in host.file("/etc/mysql/mariadb.conf.d/90-chaton.cnf").content_string


def test_database_user_reaches_its_database_only(host):
    password = secret("framadate_db_password")
    ok = host.run(f"mariadb -u framadate -p{shlex.quote(password)} framadate -e 'select 1'")
    assert ok.rc == 0, ok.stderr
    refused = host.run(f"mariadb -u framadate -p{shlex.quote(password)} mysql -e 'select 1'")
    assert refused.rc != 0
    wrong = host.run("mariadb -u framadate -pwrong-password framadate -e 'select 1'")
    assert wrong.rc != 0


def test_relay_listens_on_loopback_only_and_forwards_to_the_provider(host):
    listening = host.check_output("ss -Hltn")
    assert "127.0.0.1:25" in listening
    assert "0.0.0.0:25 " not in listening
    token = f"relay-test-{time.time_ns()}"
    sent = host.run(
        "python3 -c "
        + shlex.quote(
            "import smtplib; s = smtplib.SMTP('127.0.0.1', 25); "
            f"s.sendmail('no-reply@chaton.test', ['someone@example.net'], 'Subject: {token}\\r\\n\\r\\nhello\\r\\n'); "
            "s.quit()"
        )
    )
    assert sent.rc == 0, sent.stderr
    for _ in range(30):
        found = host.run(f"grep -rl {token} {SINK}/new")
        if found.rc == 0:
            break
        time.sleep(1)
    assert found.rc == 0, host.run("journalctl -u postfix@- -n 20 --no-pager").stdout
    message = email.message_from_string(host.file(found.stdout.split()[0]).content_string)
    assert message["Subject"] == token


def test_php_fpm_master_is_the_services_own_and_its_socket_is_for_nginx_only(host, php):
    assert host.run(f"php-fpm{php} --test --fpm-config /etc/php/chaton/framadate.conf").rc == 0
    pool = host.file("/etc/php/chaton/framadate.conf").content_string
    assert "pm = ondemand" in pool
    assert "open_basedir" in pool
    # Debian's shared root master is masked; Framadate's master runs as framadate.
    assert host.run(f"systemctl is-enabled php{php}-fpm").stdout.strip() == "masked"
    master = host.check_output("systemctl show php-fpm-framadate -p MainPID --value")
    assert master != "0"
    assert host.check_output(f"ps -o user= -p {master}") == "framadate"
    assert host.run(f"ps -o user= -C php-fpm{php} | grep -v framadate").rc != 0, "a php-fpm process not framadate's"
    rundir = host.file("/run/php-fpm-framadate")
    assert rundir.user == "framadate" and rundir.group == "www-data" and rundir.mode == 0o750
    assert host.file("/run/php-fpm-framadate/php-fpm.sock").is_socket
    # nginx reaches the socket; another unprivileged user does not.
    assert host.run("runuser -u www-data -- test -w /run/php-fpm-framadate/php-fpm.sock").rc == 0
    assert host.run("runuser -u nobody -- test -e /run/php-fpm-framadate/php-fpm.sock").rc != 0


def test_php_fpm_unit_is_sandboxed_without_capabilities(host):
    shown = host.check_output(
        "systemctl show php-fpm-framadate -p User -p ProtectSystem -p NoNewPrivileges -p CapabilityBoundingSet"
        " -p ReadWritePaths"
    )
    props = dict(line.split("=", 1) for line in shown.splitlines())
    assert props["User"] == "framadate"
    assert props["ProtectSystem"] == "strict" and props["NoNewPrivileges"] == "yes"
    assert props["CapabilityBoundingSet"] == ""
    assert "/var/lib/framadate" in props["ReadWritePaths"]
    exposure = host.check_output("systemd-analyze security --no-pager php-fpm-framadate.service | tail -1")
    print(f"php-fpm-framadate exposure: {exposure}")
    assert float(exposure.split(":")[1].split()[0]) <= 2.0


def test_admin_password_file_is_bcrypt_and_for_nginx_only(host):
    htpasswd = host.file("/etc/nginx/framadate.htpasswd")
    assert htpasswd.mode == 0o640 and htpasswd.user == "root" and htpasswd.group == "www-data"
    assert htpasswd.content_string.startswith("admin:$2")


def test_nginx_serves_the_name_and_asks_for_the_admin_password(host, root):
    assert host.run("nginx -t").rc == 0
    anonymous = curl(
        host, f"https://{DOMAIN}/admin/", "--resolve", RESOLVE, "-o", "/dev/null", "-w", "%{http_code}", cacert=root
    )
    assert anonymous.stdout == "401"
    wrong = curl(
        host,
        f"https://{DOMAIN}/admin/",
        "--resolve",
        RESOLVE,
        "-u",
        "admin:wrong",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        cacert=root,
    )
    assert wrong.stdout == "401"
    password = secret("framadate_admin_password")
    good = curl(
        host,
        f"https://{DOMAIN}/admin/",
        "--resolve",
        RESOLVE,
        "-u",
        f"admin:{password}",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        cacert=root,
    )
    assert good.stdout != "401"
