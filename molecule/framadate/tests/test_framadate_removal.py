"""Last: framadate_enabled false removes Framadate and keeps its data; framadate_purge_data true deletes it.

Runs after every other test (file order), with or without the application: without the artifacts the
platform (database, PHP-FPM master, nginx site, admin password, backup declaration) is what is removed.
"""

from conftest import APP

from chaton.testing import converge

GONE = [
    "/etc/systemd/system/php-fpm-framadate.service",
    "/etc/php/chaton/framadate.conf",
    "/etc/tmpfiles.d/php-fpm-framadate.conf",
    "/run/php-fpm-framadate",
    "/etc/nginx/sites-enabled/date.chaton.test.conf",
    "/etc/nginx/sites-available/date.chaton.test.conf",
    "/etc/nginx/framadate.htpasswd",
    "/var/www/framadate",
    "/etc/framadate",
    "/etc/borgmatic.d/framadate.yaml",
]


def databases(host) -> list[str]:
    return host.check_output("mariadb -N -e 'SHOW DATABASES'").split()


def test_disabling_removes_framadate_and_keeps_its_data(host):
    polls_before = host.check_output("mariadb -N framadate -e 'SELECT count(*) FROM fd_poll'") if APP else None
    converge("-e", "framadate_enabled=false", only="framadate")
    assert host.run("systemctl is-active php-fpm-framadate").stdout.strip() != "active"
    for path in GONE:
        assert not host.file(path).exists, f"{path} left behind"
    assert host.run("nginx -t").rc == 0
    assert host.run("pgrep -u framadate").rc != 0, "a process of the framadate user is still running"
    # Kept: the database and its user, the data and log directories, the system user.
    assert "framadate" in databases(host)
    assert host.check_output("mariadb -N -e \"SELECT count(*) FROM mysql.user WHERE user = 'framadate'\"") == "1"
    assert host.file("/var/lib/framadate").is_directory
    assert host.user("framadate").exists
    if APP:
        polls_after = host.check_output("mariadb -N framadate -e 'SELECT count(*) FROM fd_poll'")
        assert polls_after == polls_before and int(polls_after) > 0, "the polls must survive the removal"


def test_purging_deletes_the_database_files_and_user(host):
    converge("-e", "framadate_enabled=false", "-e", "framadate_purge_data=true", only="framadate")
    assert "framadate" not in databases(host)
    assert host.check_output("mariadb -N -e \"SELECT count(*) FROM mysql.user WHERE user = 'framadate'\"") == "0"
    for path in ["/var/lib/framadate", "/var/log/framadate", *GONE]:
        assert not host.file(path).exists, f"{path} left behind"
    assert not host.user("framadate").exists
    # The shared blocks stay for other services: MariaDB and the mail relay still run.
    assert host.service("mariadb").is_running
    assert host.service("postfix").is_running
