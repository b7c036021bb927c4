"""Issue #21: the bare upstream Etherpad on PostgreSQL beside chaton's, and the report's fair comparison."""

import json
import re

import pytest

from chaton.bench import parse, run

# The shape of the lines upstream's settings.json.template (Etherpad 3.3.1) has where the bench changes it:
# the port, the default dirty database, and a commented example of another database.
TEMPLATE = """{
  "ip": "0.0.0.0",
  "port": 9001,
  /*
   * An Example of MySQL Configuration (commented out).
  "dbType" : "mysql",
   */
  "dbType": "dirty",
  "dbSettings": {
    "filename": "var/dirty.db"
  },
  "defaultPadText": "x"
}
"""
PG = {"host": "127.0.0.1", "port": 5432, "database": "db", "user": "db", "password": "abc123"}


def uncommented(text: str) -> dict:
    return json.loads(re.sub(r"/\*.*?\*/", "", text, flags=re.S))


def test_upstream_settings_change_only_the_port_for_the_dirty_upstream():
    settings = parse.upstream_settings(TEMPLATE, 9011)
    assert uncommented(settings) == {**uncommented(TEMPLATE), "port": 9011}
    assert settings.count("\n") == TEMPLATE.count("\n")


def test_upstream_settings_on_postgresql_change_the_port_and_the_database_only():
    settings = uncommented(parse.upstream_settings(TEMPLATE, 9012, PG))
    assert settings == {**uncommented(TEMPLATE), "port": 9012, "dbType": "postgres", "dbSettings": PG}


@pytest.mark.parametrize("line", ['  "port": 9001,', '  "dbType": "dirty",', '    "filename": "var/dirty.db"'])
def test_upstream_settings_refuse_a_template_of_another_shape(line):
    with pytest.raises(ValueError, match="found 0 times"):
        parse.upstream_settings(TEMPLATE.replace(line + "\n", ""), 9012, PG)


def test_upstream_settings_refuse_a_line_found_twice():
    with pytest.raises(ValueError, match="found 2 times"):
        parse.upstream_settings(TEMPLATE + '  "port": 9001,\n', 9011)


def target(kind: str | None, accept: list[float], seen: list[float], authors: int, accepted: int = 50) -> dict:
    out = {
        "url": "http://x",
        "fixed": {
            "latency": {"accept_ms": accept, "seen_ms": seen, "errors": []},
            "load": {"accepted": 40, "sent": 40},
        },
        "ramp": {"authors": authors, "accepted": accepted, "sent": accepted, "stopped": "server lagged"},
    }
    if kind:
        out["kind"] = kind
    return out


def test_etherpad_figures_percentiles_and_authors():
    f = run.etherpad_figures(target("chaton", [300, 301, 302, 310], [303, 304, 305, 320], 10))
    assert f == {"p50": 301.0, "p95": 310.0, "s50": 304.0, "s95": 320.0, "authors": 10}
    # A ramp whose commits were all refused counts no author.
    assert run.etherpad_figures(target("chaton", [], [], 12, accepted=0))["authors"] is None


def test_target_kind_of_runs_before_the_postgresql_upstream():
    assert run.target_kind("chaton (nginx + chaton settings)", {}) == "chaton"
    assert run.target_kind("upstream (bare, default settings)", {}) == "upstream"
    assert run.target_kind("whatever", {"kind": "upstream-pg"}) == "upstream-pg"


def figures(p: float, s: float, authors: int | None) -> dict:
    return {"p50": p, "p95": p, "s50": s, "s95": s, "authors": authors}


def test_fair_verdicts_met_within_the_ratio():
    verdicts = run.fair_verdicts(figures(310, 320, 10), figures(300, 300, 11))
    assert len(verdicts) == 5
    assert all(v.startswith("met: ") for v in verdicts), verdicts
    assert "chaton 310 ms, upstream on PostgreSQL 300 ms, 1.03x (target <= 1.2x)" in verdicts[0]
    assert "upstream/chaton 1.10" in verdicts[4]


def test_fair_verdicts_miss_each_figure_on_its_own():
    verdicts = run.fair_verdicts(figures(300, 400, 8), figures(300, 300, 10))
    assert [v.split(":")[0] for v in verdicts] == ["met", "met", "MISSED", "MISSED", "MISSED"]
    # 1.2x exactly is met; fewer authors than 1/1.2 of upstream's is not.
    assert run.fair_verdicts(figures(360, 360, 10), figures(300, 300, 12))[0].startswith("met")
    assert run.fair_verdicts(figures(300, 300, 9), figures(300, 300, 11))[4].startswith("MISSED")


def test_fair_verdicts_miss_without_figures():
    assert run.fair_verdicts(figures(300, 300, 10), None)[0].startswith("MISSED: Etherpad: the bare upstream")
    verdicts = run.fair_verdicts(figures(300, 300, None), figures(300, 300, 10))
    assert verdicts[4].startswith("MISSED") and "chaton -" in verdicts[4]
    assert run.fair_verdicts({**figures(300, 300, 10), "p50": None}, figures(300, 300, 10))[0].startswith("MISSED")


def state_with(targets: dict) -> dict:
    return {"services": ["etherpad"], "etherpad": {"authors": 5, "lurkers": 15, "seconds": 45, "targets": targets}}


def test_report_puts_the_three_etherpads_side_by_side():
    sections, verdicts = run.bench_sections(
        state_with(
            {
                "chaton (nginx + chaton settings)": target("chaton", [300] * 20, [302] * 20, 10),
                "upstream on PostgreSQL (bare, its settings otherwise)": target(
                    "upstream-pg", [298] * 20, [300] * 20, 10
                ),
                "upstream (bare, default settings: dirty)": target("upstream", [5] * 20, [6] * 20, 11),
            }
        )
    )
    (sec,) = [s for s in sections if s.title.startswith("Etherpad served performance")]
    labels = [row[0] for row in sec.rows]
    assert labels == [
        "chaton (nginx + chaton settings)",
        "upstream on PostgreSQL (bare, its settings otherwise)",
        "upstream (bare, default settings: dirty)",
        "ratio chaton / upstream on PostgreSQL",
        "ratio chaton / upstream on dirty",
    ]
    assert sec.rows[3][1:5] == ["1.01", "1.01", "1.01", "1.01"] and sec.rows[3][6] == "1.00"
    assert sec.rows[4][1] == "60.00"
    etherpad = [v for v in verdicts if "Etherpad" in v]
    assert len(etherpad) == 5 and all(v.startswith("met") for v in etherpad)
    # The dirty upstream is shown, not held as a target.
    assert not any("dirty" in v for v in verdicts)
    assert any("for reference, not a target" in n for n in sec.notes)


def test_report_of_a_run_before_the_postgresql_upstream_says_so():
    _, verdicts = run.bench_sections(
        state_with(
            {
                "chaton (nginx + chaton settings)": target(None, [300] * 20, [302] * 20, 10),
                "upstream (bare, default settings)": target(None, [5] * 20, [6] * 20, 11),
            }
        )
    )
    assert [v for v in verdicts if "Etherpad" in v] == [
        "MISSED: Etherpad: the bare upstream on PostgreSQL was not measured in this run (no fair comparison)"
    ]


def test_only_etherpad_needs_the_host_the_last_run_converged(monkeypatch):
    import io

    from rich.console import Console

    from chaton.bench import host

    out = io.StringIO()
    console = Console(file=out, width=200)
    monkeypatch.setattr(host, "load_state", lambda name="state.json": {"converge": {"first": {}}})
    monkeypatch.setattr(host, "running", lambda name: True)
    assert run.bench(console, "12", False, False, "chaton bench --only etherpad", "etherpad") == 2
    assert "no running chaton-bench-host" in out.getvalue()
    assert run.bench(console, "12", False, False, "chaton bench --only foo", "foo") == 2
    assert "--only knows four parts: etherpad, deploy, transcode, light" in out.getvalue()


def test_report_shows_chaton_without_the_proxy_as_information_only():
    sections, verdicts = run.bench_sections(
        state_with(
            {
                "chaton (nginx + chaton settings)": target("chaton", [300] * 20, [302] * 20, 10),
                "chaton's Etherpad without the proxy (chaton settings)": target(
                    "chaton-direct", [250] * 20, [250] * 20, 10
                ),
                "upstream on PostgreSQL (bare, its settings otherwise)": target(
                    "upstream-pg", [300] * 20, [300] * 20, 10
                ),
            }
        )
    )
    (sec,) = [s for s in sections if s.title.startswith("Etherpad served performance")]
    rows = {row[0]: row for row in sec.rows}
    assert rows["ratio chaton / chaton without the proxy"][1] == "1.20"
    assert rows["ratio chaton / upstream on PostgreSQL"][1] == "1.00"
    assert len([v for v in verdicts if "Etherpad" in v]) == 5


def test_fair_verdicts_show_a_ratio_just_over_the_limit_with_three_digits():
    verdicts = run.fair_verdicts(figures(300, 730, 10), figures(300, 606, 10))
    assert "1.00x" in verdicts[0]
    assert verdicts[3].startswith("MISSED") and "1.205x" in verdicts[3]
    assert "1.20x" in run.fair_verdicts(figures(360, 360, 10), figures(300, 300, 10))[0]
