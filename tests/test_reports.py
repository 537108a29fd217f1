"""Reports: every count and rate checked by hand on a known set; rollups agree; HTML renders."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from onestop import Engine, ManualClock
from onestop.periods import Period
from onestop.report_charts import bar_chart, trend_chart
from onestop.report_html import render_html
from onestop.reports import full_report, on_time_report
from onestop.rollups import rollup_report, snapshot_range

from .helpers import dt, finish


@pytest.fixture
def known(engine: Engine, clock: ManualClock) -> Engine:
    """Commune: 2 early, 1 on time, 1 late (apology). District: 1 early, 1 late, 1 open overdue,
    1 open paused. City: 1 open in time."""
    clock.set(dt(2025, 3, 3, 8, 0))  # Monday
    c1, c2, c3, c4 = (engine.receive("BIRTH", "W1") for _ in range(4))  # due Thu 6 Mar 08:00
    d1, d2, d3, d4 = (engine.receive("LAND", "D1") for _ in range(4))  # due Mon 17 Mar 08:00
    clock.set(dt(2025, 3, 4, 9, 0))
    engine.apologise(c4.id, dt(2025, 3, 11, 17, 0), "xác minh")
    finish(engine, clock, c1.id, dt(2025, 3, 4, 10, 0))
    finish(engine, clock, c2.id, dt(2025, 3, 5, 10, 0))
    finish(engine, clock, c3.id, dt(2025, 3, 6, 7, 30))  # on the appointment day, before 08:00
    finish(engine, clock, d1.id, dt(2025, 3, 7, 10, 0))
    finish(engine, clock, c4.id, dt(2025, 3, 7, 11, 0))  # apology -> late
    engine.request_supplement(d4.id, "thiếu giấy tờ")
    finish(engine, clock, d2.id, dt(2025, 3, 18, 9, 0))  # late
    clock.set(dt(2025, 3, 24, 9, 0))
    engine.receive("JUDICIAL", "C")
    return engine


def test_counts_and_rates_by_hand(known: Engine) -> None:
    report = on_time_report(
        known.store, Period.parse("2025-03"), ["level"], as_of=dt(2025, 3, 24, 10, 0)
    )
    rows = {r.key["level"]: r.as_dict() for r in report.rows}
    assert list(rows) == ["city", "district", "commune"]
    assert rows["commune"] | {} == {
        "level": "commune",
        "resolved": 4,
        "early": 2,
        "on_time": 1,
        "late": 1,
        "on_time_rate": 0.75,
        "open_in_time": 0,
        "open_overdue": 0,
        "apologies": 1,
    }
    assert rows["district"]["resolved"] == 2 and rows["district"]["early"] == 1
    assert rows["district"]["late"] == 1 and rows["district"]["on_time_rate"] == 0.5
    assert rows["district"]["open_overdue"] == 1  # d3; d4 is paused, its clock stopped
    assert rows["district"]["open_in_time"] == 1
    assert rows["city"]["resolved"] == 0 and rows["city"]["on_time_rate"] is None
    assert rows["city"]["open_in_time"] == 1
    assert report.sentence("vi") == (
        "Tháng 3/2025: tỷ lệ hồ sơ giải quyết đúng hẹn cấp huyện đạt 50,00 %; cấp xã 75,00 %."
    )
    assert report.sentence("en") == (
        "March 2025: dossiers resolved on time reached 50.00 % at district level; "
        "75.00 % at commune level."
    )


def test_group_by_field_and_channel(known: Engine) -> None:
    report = on_time_report(known.store, Period.parse("2025"), ["field", "channel"])
    keys = [tuple(r.key.values()) for r in report.rows]
    assert ("civil_status", "counter") in keys and ("land", "counter") in keys


def test_rollups_match_the_live_report(known: Engine, clock: ManualClock) -> None:
    snapshot_range(
        known.store, datetime(2025, 3, 1).date(), datetime(2025, 3, 31).date(), clock.now()
    )
    for by in (["level"], ["level", "unit"], ["procedure"], ["field"]):
        live = on_time_report(known.store, Period.parse("2025-03"), by)
        rolled = rollup_report(known.store, Period.parse("2025-03"), by)
        assert [r.as_dict() for r in rolled.rows] == [r.as_dict() for r in live.rows]
    # The open backlog is in the rollups too (the fixture leaves dossiers open at the month's end).
    assert sum(r.open_in_time + r.open_overdue for r in rolled.rows) > 0


def test_period_parsing() -> None:
    assert Period.parse("2024-Q2").start.isoformat() == "2024-04-01"
    assert Period.parse("2024-Q2").end.isoformat() == "2024-06-30"
    assert Period.parse("2024-02").end.isoformat() == "2024-02-29"
    assert Period.parse("2024-01-05..2024-02-01").label_en == "2024-01-05 to 2024-02-01"


@pytest.fixture
def chromium() -> str:
    """The Chromium binary; skips the test when there is none."""
    found = os.environ.get("ONESTOP_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.skip("Chromium not installed (.ci/run installs Debian's chromium)")
    return found


def test_html_report_renders_in_headless_chromium(
    chromium: str, known: Engine, tmp_path: Path
) -> None:
    report = on_time_report(
        known.store, Period.parse("2025-03"), ["level"], as_of=dt(2025, 3, 24, 10, 0)
    )
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    shot = tmp_path / "shot.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,1000",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert "Báo cáo tiến độ giải quyết hồ sơ" in dom and "On-time report" in dom
    # One number format on the page (Vietnamese) outside the English sentence.
    assert '<td class="num">75,00 %</td>' in dom and '<td class="num">50,00 %</td>' in dom
    assert '<td class="num">75.00 %</td>' not in dom
    assert "trục từ 0 %" in dom  # the on-time axis starts at zero
    # Levels named from the definitions (tiny.yaml), the code's English name beneath.
    assert "<td>cấp xã<br><small>commune</small></td>" in dom
    assert dom.count("<rect") >= 5  # bars for two levels plus the legend
    subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # A blank page compresses to almost nothing; a rendered table and charts do not.
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body></body></html>")
    blank_shot = tmp_path / "blank.png"
    subprocess.run(
        [chromium, *flags, f"--screenshot={blank_shot}", blank.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert len(data) > 3 * len(blank_shot.read_bytes())


def test_kpis_and_late_steps(engine: Engine, clock: ManualClock) -> None:

    clock.set(dt(2025, 3, 3, 8, 0))
    a = engine.receive("LAND", "D1", channel="online", return_method="post")
    b = engine.receive("JUDICIAL", "C", intake_unit="W1")
    engine.receive("COPY", "W2")
    engine.complete_step(a.id)
    engine.request_payment(a.id, 100_000)
    engine.pay(a.id, online=True)
    clock.set(dt(2025, 3, 10, 9, 0))  # b's desk step (1 day) is long overdue
    engine.complete_step(b.id)
    c = engine.receive("COPY", "W1")
    engine.resolve(c.id)
    engine.return_result(c.id)
    engine.rate(c.id, 5)
    report = full_report(engine.store, Period.parse("2025-03"))
    k = report.kpis
    assert k is not None
    assert (k.received, k.location_independent, k.ratings) == (4, 1, 1)
    assert k.online_share == 0.25 and k.paid_online_share == 1.0
    assert k.post_return_share == 0.25 and k.satisfaction == 1.0
    late = {s.agency: (s.completed, s.late) for s in report.late_steps or []}
    assert late["C-DESK"] == (1, 1)
    assert late["D1-DESK"] == (1, 0)
    assert report.late_steps and report.late_steps[0].agency == "C-DESK"
    html = render_html(report)
    assert (
        "Agencies with the most late steps" in html and "C-DESK" in html and "Paid online" in html
    )
    data = report.as_dict()
    assert data["kpis"]["online_share"] == 0.25
    assert data["late_steps_by_agency"][0] == {"agency": "C-DESK", "completed": 1, "late": 1}


def test_figures_are_written_the_way_each_language_writes_them() -> None:
    from onestop.presentation import count, percent

    assert percent(0.99956, "vi") == "99,96 %" and percent(0.99956, "en") == "99.96 %"
    assert percent(1.0, "vi") == "100,00 %" and percent(None, "en") == "–"
    assert count(1337, "vi") == "1.337" and count(1337, "en") == "1,337"
    assert count(1234567, "vi") == "1.234.567"
    assert percent(12.3456, "vi") == "1.234,56 %"  # a thousands separator too (shares > 1)


def test_digitisation_kpis(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    a = engine.receive("COPY", "W1", digitised=True, reused_data=True)
    b = engine.receive("COPY", "W1", digitised=True, reused_data=False)
    engine.receive("COPY", "W1", digitised=False)
    engine.receive("COPY", "W1")  # not recorded: left out of the shares
    engine.resolve(a.id, electronic=True, digitised=True)
    engine.resolve(b.id, electronic=False, digitised=True)
    kpis = full_report(engine.store, Period.parse("2025-03")).as_dict()["kpis"]
    assert kpis["received"] == 4
    assert kpis["digitised_share"] == 0.6667  # 2 of the 3 recorded
    assert kpis["reuse_share"] == 0.5  # 1 of 2
    assert kpis["results_digitised_share"] == 1.0  # 2 of 2
    assert kpis["results_electronic_share"] == 0.5  # 1 of 2
    assert engine.get(a.id).result_electronic is True


def test_full_report_trend_late_procedures_and_units(known: Engine, clock: ManualClock) -> None:
    """Two months: March as in ``known``; in April d3 (LAND at D1, due 17 March) is resolved
    late. Every figure below is counted by hand from the fixture."""
    d3 = next(d for d in known.open_dossiers() if d.procedure_code == "LAND" and
              d.status != "supplement_requested")  # fmt: skip
    finish(known, clock, d3.id, dt(2025, 4, 2, 10, 0))
    report = full_report(known.store, Period.parse("2025-03-01..2025-04-30"))
    data = report.as_dict()
    assert data["trend"] == [
        {"month": "2025-03", "level": "commune", "early": 2, "on_time": 1, "late": 1,
         "on_time_rate": 0.75},
        {"month": "2025-03", "level": "district", "early": 1, "on_time": 0, "late": 1,
         "on_time_rate": 0.5},
        {"month": "2025-04", "level": "district", "early": 0, "on_time": 0, "late": 1,
         "on_time_rate": 0.0},
    ]  # fmt: skip
    # LAND: d1 early, d2 and d3 late; BIRTH: c4 late (apology) of four.
    assert data["late_procedures"] == [
        {"procedure": "LAND", "resolved": 3, "late": 2},
        {"procedure": "BIRTH", "resolved": 4, "late": 1},
    ]
    units = {(r["level"], r["unit"]): r for r in data["by_unit"]}
    assert list(units) == [("city", "C"), ("district", "D1"), ("commune", "W1")]
    assert (units["district", "D1"]["resolved"], units["district", "D1"]["late"]) == (3, 2)
    assert units["district", "D1"]["open_in_time"] == 1  # d4, its clock stopped in time
    # The city's JUDICIAL dossier (24 March, 10 working days) is past its appointment by 30 April.
    assert (units["city", "C"]["open_in_time"], units["city", "C"]["open_overdue"]) == (0, 1)

    html = render_html(report)
    assert "Tỷ lệ đúng hạn theo tháng" in html and 'class="chart trend"' in html
    # Months down, levels across (district before commune); "–" where a level resolved nothing.
    assert (
        '<tr><td>03/2025</td><td class="num">50,00 %</td><td class="num">75,00 %</td></tr>'
    ) in html
    assert '<tr><td>04/2025</td><td class="num">0,00 %</td><td class="num">–</td></tr>' in html
    assert "trục bị ngắt" not in html  # a rate of 0 % puts the axis at zero, unbroken
    # Late procedures by name, most late first, with their share.
    late_table = html[html.index('id="late-procedures"') :]
    land = late_table.index("Đăng ký biến động quyền sử dụng đất")
    birth = late_table.index("Liên thông đăng ký khai sinh")
    assert land < birth and '<td class="num">66,67 %</td>' in late_table
    # One table per level, units by name with their code beneath.
    assert "<h3>Cấp huyện — theo đơn vị" in html
    assert "<td>Quận Một<br><small>D1</small></td>" in html


def test_one_month_has_no_trend_chart(known: Engine) -> None:
    html = render_html(full_report(known.store, Period.parse("2025-03")))
    assert 'class="chart trend"' not in html and "On-time rate by month" not in html


def test_trend_axis_breaks_only_above_zero_and_says_so() -> None:
    high = trend_chart(["1/2024", "2/2024"], [("cấp xã", [0.9995, 0.9991])])
    # Lowest rate 99.91 %: the axis starts at 99.9 %, drawn broken and labelled in both languages.
    assert "Trục tung bắt đầu từ 99,9 % (trục bị ngắt)" in high
    assert "Vertical axis starts at 99.9 % (broken axis)" in high and "axis-break" in high
    low = trend_chart(["1/2024", "2/2024"], [("cấp xã", [0.30, None])])
    assert "trục bị ngắt" not in low and "axis-break" not in low
    assert ">0,0 %</text>" in low  # the axis foot is zero


def test_bars_over_a_track_are_shares_with_their_value_after_the_track() -> None:
    svg = bar_chart(
        [("W1", 0.5, "1/2"), ("W2", 0.0, "0/2")], top=1.0, title="t", low="0", high="2",
        css_class="s", track="#eee",
    )  # fmt: skip
    # The span is 760 - 260 - 90 = 410 px: a track that long behind each bar, a half share
    # 205 px, nothing 1 px; the values written 6 px after the track's end (260 + 410).
    assert svg.count('width="410" height="20" fill="#eee"/>') == 2
    assert '<rect x="260" y="10" width="205.0" height="20" fill="#1565c0"/>' in svg
    assert '<rect x="260" y="36" width="1.0" height="20" fill="#1565c0"/>' in svg
    assert '<text x="676.0" y="25">1/2</text>' in svg and '<text x="676.0" y="51">0/2</text>' in svg
    # Without a track the value follows its bar.
    plain = bar_chart([("W1", 0.5, "1/2")], top=1.0, title="t", low="0", high="2", css_class="s")
    assert 'fill="#eee"' not in plain and '<text x="471.0" y="25">1/2</text>' in plain


def test_fields_are_named_from_the_definitions(known: Engine) -> None:
    report = full_report(known.store, Period.parse("2025-03"), ["field"])
    assert report.label("field", "land", "vi") == "Đất đai"  # tests/fixtures/workflows/fields.yaml
    assert report.label("field", "civil_status", "en") == "Civil status"
    html = render_html(report)
    assert "<td>Đất đai<br><small>Land</small></td>" in html
    assert "<td>Hộ tịch<br><small>Civil status</small></td>" in html
