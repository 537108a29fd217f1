"""The Decision 766/QĐ-TTg scorecard: every value and point worked out by hand on a known set.

The set (tiny.yaml, March 2025, office hours 07:00–11:00 and 13:00–17:00, 8 h a working day):

* Commune W1, four certified copies (COPY, same day: due 17:00 on the day of a 09:00 receipt)
  received Monday 3 March 09:00: a digitised and reusing data, resolved 11:00 (on time,
  result electronic and digitised, rated 5); b digitised, no reuse, resolved Tuesday 09:00
  (late, result digitised, not electronic, rated 1); c not digitised, resolved 10:00 (on time,
  nothing recorded on the result); d nothing recorded, still open; and h, a birth registration
  bundle (BIRTH) submitted online at the same time, still open.
* District D1, three land transfers (LAND, 10 working days: due Monday 17 March 08:00) received
  Monday 3 March 08:00: e paid online, resolved Wednesday 19 March 08:00 (late); f submitted
  online, paid at the desk, still open; g apologised on 4 March with a new date of 21 March,
  resolved Thursday 20 March 08:00 (late).
* City C, one judicial record certificate (JUDICIAL, online: full), still open.

The catalog: commune BIRTH online full, COPY none; district LAND and BUILD partial; city JUDICIAL
full.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from onestop import Calendar, Engine, ManualClock
from onestop.cli import app
from onestop.periods import Period
from onestop.scorecard import GROUPS, Scorecard, scorecard
from onestop.scorecard_html import render_scorecard_html

from .conftest import FIXTURES
from .helpers import dt, finish


@pytest.fixture
def known(engine: Engine, clock: ManualClock) -> Engine:
    clock.set(dt(2025, 3, 3, 8, 0))  # Monday
    e = engine.receive("LAND", "D1")
    f = engine.receive("LAND", "D1", channel="online")
    g = engine.receive("LAND", "D1")
    engine.receive("JUDICIAL", "C")
    clock.set(dt(2025, 3, 3, 9, 0))
    a = engine.receive("COPY", "W1", digitised=True, reused_data=True)
    b = engine.receive("COPY", "W1", digitised=True, reused_data=False)
    c = engine.receive("COPY", "W1", digitised=False)
    engine.receive("COPY", "W1")
    engine.receive("BIRTH", "W1", channel="online")
    for land, online in ((e, True), (f, False)):
        engine.complete_step(land.id)
        engine.request_payment(land.id, 500_000)
        engine.pay(land.id, online=online)  # paid at once: the clock stood still for no time
    clock.set(dt(2025, 3, 3, 10, 0))
    engine.resolve(c.id)
    clock.set(dt(2025, 3, 3, 11, 0))
    engine.resolve(a.id, electronic=True, digitised=True)
    engine.return_result(a.id)
    engine.rate(a.id, 5)
    clock.set(dt(2025, 3, 4, 9, 0))
    engine.apologise(g.id, dt(2025, 3, 21, 17, 0), "xác minh thực địa")
    engine.resolve(b.id, electronic=False, digitised=True)
    engine.return_result(b.id)
    engine.rate(b.id, 1)
    finish(engine, clock, e.id, dt(2025, 3, 19, 8, 0))
    finish(engine, clock, g.id, dt(2025, 3, 20, 8, 0))
    return engine


def values(card: Scorecard, key: str) -> dict[str, tuple[float | None, float | None]]:
    """Indicator code -> (value, points), rounded to 4 decimals."""
    row = next(r for r in card.rows if r.key == key)

    def r4(x: float | None) -> float | None:
        return None if x is None else round(x, 4)

    return {code: (r4(s.value), r4(s.points)) for code, s in row.scores.items()}


def totals(card: Scorecard, key: str) -> dict[str, tuple[float, float]]:
    row = next(r for r in card.rows if r.key == key)
    out = {g.code: row.group_points(g) for g in GROUPS}
    out["total"] = row.total
    return {k: (round(a, 4), round(b, 4)) for k, (a, b) in out.items()}


def test_commune_unit_by_hand(known: Engine, calendar: Calendar) -> None:
    card = scorecard(known.store, Period.parse("2025-03"), "unit", calendar)
    assert [r.key for r in card.rows] == ["C", "D1", "W1"]
    assert values(card, "W1") == {
        # a and c on time, b late: 2 of 3 resolved, × 10 points.
        "1.3": (0.0, None),  # 5 received, none synchronised (no dispatcher ran); not scored
        "2.1": (0.6667, 6.6667),
        # Used: a 09:00→11:00 = 2 h, b Mon 09:00→Tue 09:00 = 6 h + 2 h, c 1 h: 11 h = 1.375 days.
        # Allowed: 09:00→17:00 = 6 h each, 18 h = 2.25 days. 1.375 / 2.25 ≤ 1: full 10 points.
        "2.2": (0.6111, 10.0),
        "3.1": (0.6667, 3.6667),  # a, b of the three recorded (d not recorded) × 5.5
        "3.2": (0.5, 2.75),  # a of a, b
        "3.3": (1.0, 5.5),  # a, b of a, b (c not recorded)
        "3.4": (0.5, 2.75),  # a of a, b
        "4.1": (0.5, 3.6667),  # BIRTH of BIRTH, COPY × 22/3
        "4.2": (0.2, 1.4667),  # h of five received × 22/3
        "4.3": (None, None),  # nothing payable
        "5.3": (0.6667, 4.0),  # (3 resolved − b rated 1) / 3 × 6
    }
    assert totals(card, "W1") == {
        "1": (0.0, 0.0),  # not computable from onestop data
        "2": (16.6667, 20.0),
        "3": (14.6667, 22.0),
        "4": (5.1333, 14.6667),  # 4.3 not scored: 2 × 22/3 possible
        "5": (4.0, 6.0),  # 5.1 and 5.2 not computable
        "total": (40.4667, 62.6667),
    }


def test_district_unit_by_hand_with_late_and_apologised_dossiers(
    known: Engine, calendar: Calendar
) -> None:
    card = scorecard(known.store, Period.parse("2025-03"), "unit", calendar)
    assert values(card, "D1") == {
        "1.3": (0.0, None),  # e, f, g received, none synchronised
        "2.1": (0.0, 0.0),  # e and g late
        # Used: e 3 Mar 08:00 → 19 Mar 08:00 = 12 working days, g → 20 Mar = 13: 25.
        # Allowed: both to 17 Mar 08:00 = 10 (g's apology date gives no lawful time): 20.
        # 25 / 20 = 1.25 > 1: 10 / 1.25 = 8 points.
        "2.2": (1.25, 8.0),
        "3.1": (None, None),
        "3.2": (None, None),
        "3.3": (None, None),
        "3.4": (None, None),
        "4.1": (1.0, 7.3333),  # LAND and BUILD both partial
        "4.2": (0.3333, 2.4444),  # f of e, f, g
        "4.3": (0.5, 3.6667),  # e paid online, f at the desk
        "5.3": (1.0, 6.0),  # no rating at or below 2
    }
    assert totals(card, "D1")["total"] == (27.4444, 48.0)


def test_by_level_orders_levels_and_scores_the_open_city(known: Engine, calendar: Calendar) -> None:
    card = scorecard(known.store, Period.parse("2025-03"), "level", calendar)
    assert [r.key for r in card.rows] == ["city", "district", "commune"]
    assert values(card, "city") == {
        "1.3": (0.0, None),  # one received, not synchronised
        "2.1": (None, None),
        "2.2": (None, None),
        "3.1": (None, None),
        "3.2": (None, None),
        "3.3": (None, None),
        "3.4": (None, None),
        "4.1": (1.0, 7.3333),  # JUDICIAL, online in full
        "4.2": (0.0, 0.0),  # received at the counter
        "4.3": (None, None),
        "5.3": (None, None),
    }
    assert totals(card, "city")["total"] == (7.3333, 14.6667)
    assert totals(card, "commune")["total"] == (40.4667, 62.6667)
    # A period with nothing in it has no rows.
    assert scorecard(known.store, Period.parse("2025-04"), "level", calendar).rows == []


def test_json_and_html_state_formulas_points_and_what_is_not_computable(
    known: Engine, calendar: Calendar
) -> None:
    card = scorecard(known.store, Period.parse("2025-03"), "unit", calendar)
    data = json.loads(card.to_json())
    assert [g["points"] for g in data["groups"]] == [18.0, 20.0, 22.0, 22.0, 18.0]
    ind = {i["code"]: i for g in data["groups"] for i in g["indicators"]}
    assert ind["2.1"]["formula"].startswith("(early + on time) / resolved")
    assert ind["1.2"]["computable"] is False and "publication" in ind["1.2"]["reason"]
    assert ind["5.1"]["computable"] is False and "feedback" in ind["5.1"]["reason"]
    w1 = next(r for r in data["rows"] if r["unit"] == "W1")
    assert w1["name"] == "Phường Một"
    assert (w1["points"], w1["points_possible"]) == (40.4667, 62.6667)
    page = render_scorecard_html(card)
    # Self-contained: no script, no linked file (the SVG namespace URI fetches nothing).
    assert "<script" not in page and "src=" not in page and "<link" not in page
    assert "Phường Một" in page and "Quận Một" in page
    assert "16,67 / 20,00" in page  # W1's progress group, Vietnamese number style
    assert "66,67 %" in page and "1,25×" in page
    assert "not computable from onestop data" in page


def run(args: list[str]) -> Any:
    return CliRunner().invoke(app, ["scorecard", *args, "--workflows", str(FIXTURES)])


def test_cli_json_html_and_bad_input(known: Engine, db_url: str, tmp_path: Any) -> None:
    known.store.dispose()
    result = run(["--db", db_url, "--period", "2025-03", "--by", "unit", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    d1 = next(r for r in data["rows"] if r["unit"] == "D1")
    assert d1["indicators"]["2.2"] == {
        "value": 1.25,
        "numerator": 25.0,
        "denominator": 20.0,
        "points": 8.0,
    }
    page = tmp_path / "card.html"
    result = run(["--db", db_url, "--by", "level", "-f", "html", "--out", str(page)])
    assert result.exit_code == 0, result.output
    assert "Năm 2025 (dữ liệu mới nhất" in result.stderr  # default period: the latest year
    assert "cấp xã" in page.read_text(encoding="utf-8")
    table = run(["--db", db_url, "--period", "2025-03", "--by", "level"])
    assert table.exit_code == 0 and "40.47 / 62.67" in table.stdout  # English style
    for bad, where in (
        (["--period", "2025-13"], "period"),
        (["--period", "soon"], "period"),
        (["--by", "agency"], "--by"),
        (["-f", "csv"], "--format"),
    ):
        result = run(["--db", db_url, *bad])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "error" in lines[0] and where in lines[0]
