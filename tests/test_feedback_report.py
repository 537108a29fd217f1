"""The feedback report, scorecard group 5 and satisfaction: figures of a hand-built set counted
by hand, the survey import's refusals; on both backends.

The set (March 2025, fixture units C city, D1 district, W1 commune; limits 5 / 10 / +10
working days):

| item | unit | received | what happened | judged |
|---|---|---|---|---|
| a | W1 | 3 Mar | accepted, answered 14 Mar, published, rated 2 | early |
| b | W1 | 3 Mar | accepted, extended 14 Mar, answered 20 Mar | late |
| g | W1 | 28 Feb | accepted, answered 4 Mar | early |
| c | D1 | 25 Feb | rejected 26 Feb (before March) | — |
| d | D1 | 10 Mar | forwarded 11 Mar | early |
| f | C | 5 Mar | rejected (duplicate) 5 Mar | early |
| e | C | 28 Mar | answered 2 Apr (after March), published | in progress in March |
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs
from typer.testing import CliRunner

from onestop import Engine, ManualClock
from onestop.calendar import Calendar
from onestop.cli import app
from onestop.errors import ImportRowsError, InvalidTransition, ValidationError
from onestop.feedback import FeedbackLaw
from onestop.feedback_commands import FeedbackDesk
from onestop.feedback_report import feedback_report, render_html
from onestop.periods import Period
from onestop.satisfaction import import_survey, rate_dossier
from onestop.scorecard import scorecard
from onestop.store.schema import satisfaction
from tests.helpers import dt, fingerprint, finish

LAW = FeedbackLaw.load(Path(__file__).parent.parent / "workflows")


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    # The CLI configures structlog for its own run (stderr of the runner): undo it.
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def known(engine: Engine, clock: ManualClock) -> Engine:
    desk = FeedbackDesk(engine, LAW)

    def at(*when: int) -> None:
        clock.set(dt(*when))

    at(2025, 2, 25, 9)
    c = desk.receive(channel="mail", subject="regulation", unit="D1")
    at(2025, 2, 26, 9)
    desk.reject(c.id, "outside_scope")
    at(2025, 2, 28, 9)
    g = desk.assign(
        desk.accept(desk.receive(channel="portal", subject="procedure", unit="W1").id).id, "x"
    )
    at(2025, 3, 3, 9)
    a = desk.receive(channel="portal", subject="procedure", unit="W1", topic="civil_status")
    b = desk.receive(channel="hotline", subject="procedure", unit="W1")
    for item in (a, b):
        desk.assign(desk.accept(item.id).id, "cb-07")
    at(2025, 3, 4, 9)
    desk.answer(g.id)
    at(2025, 3, 5, 9)
    f = desk.receive(channel="counter", subject="regulation", unit="C")
    at(2025, 3, 5, 10)
    desk.reject(f.id, "duplicate")
    at(2025, 3, 10, 9)
    d = desk.receive(channel="portal", subject="regulation", unit="D1")
    at(2025, 3, 11, 9)
    desk.forward(d.id, "C-JUS")
    at(2025, 3, 14, 10)
    desk.answer(a.id)
    desk.extend(b.id, "cần xác minh")
    at(2025, 3, 15, 8)
    desk.publish(a.id)
    desk.rate(a.id, 2, "zalo", comment="Trả lời chậm, chưa rõ")
    at(2025, 3, 20, 9)
    desk.answer(b.id)
    at(2025, 3, 28, 9)
    e = desk.receive(channel="portal", subject="procedure", unit="C")
    at(2025, 4, 2, 9)
    desk.assign(desk.accept(e.id).id, "cb-01")
    desk.answer(e.id)
    desk.publish(e.id)
    return engine


def test_report_by_level_counted_by_hand(known: Engine) -> None:
    report = feedback_report(known.store, Period.parse("2025-03"), ["level"])
    rows = {r.key["level"]: r.as_dict() for r in report.rows}
    cols = ("received", "on_time", "late", "in_progress", "forwarded", "rejected", "published")
    assert {k: tuple(v[c] for c in cols) for k, v in rows.items()} == {
        "city": (2, 1, 0, 1, 0, 1, 0),  # f, e received; f rejected in time; e open on 31 Mar
        # (e's answer, published in April, is not March's)
        "district": (1, 1, 0, 0, 1, 0, 0),  # d forwarded; c handled in February
        "commune": (2, 2, 1, 0, 0, 0, 1),  # a, b received; a, g in time, b late; a published
    }
    assert [r.key["level"] for r in report.rows] == ["city", "district", "commune"]
    total = report.total.as_dict()
    assert tuple(total[c] for c in cols) == (5, 4, 1, 1, 1, 1, 1)
    assert report.sentence("en") == (
        "March 2025: 5 feedback items received; 4 handled on time, 1 late, 1 in progress."
    )
    # a's rating (2 of 5) is the one answer given in March: not satisfied.
    assert report.as_dict()["satisfaction"] == {
        "feedback": {"answers": 1, "satisfied": 0, "satisfied_share": 0.0}
    }
    # April: e handled and published; nothing else moves into it.
    april = feedback_report(known.store, Period.parse("2025-04"), []).total
    assert (april.received, april.on_time, april.late, april.in_progress, april.published) == (
        0, 1, 0, 0, 1,
    )  # fmt: skip


def test_an_unknown_dimension_is_named_with_the_feedback_report_s_own(engine: Engine) -> None:
    known = "level, unit, agency, topic, subject, channel, outcome"
    with pytest.raises(
        ValidationError, match=f"^by: unknown dimension 'field'; choose from {known}$"
    ):
        feedback_report(engine.store, Period.parse("2025-03"), ["level", "field"])


def test_report_by_unit_and_topic(known: Engine) -> None:
    report = feedback_report(known.store, Period.parse("2025-03"), ["unit", "topic"])
    keys = [(r.key["unit"], r.key["topic"], r.received) for r in report.rows]
    assert keys == [("C", None, 2), ("D1", None, 1), ("W1", None, 1), ("W1", "civil_status", 1)]
    page = render_html(report, "vi")
    assert "Phường Một" in page and "Hộ tịch" in page and "<script" not in page


def test_seed_table_shape_from_the_cli(known: Engine, db_url: str) -> None:
    result = CliRunner().invoke(
        app,
        ["report", "--db", db_url, "--kind", "feedback", "--period", "2021..2025", "-f", "json"],
    )
    assert result.exit_code == 0, result.output
    total = json.loads(result.stdout)["total"]
    # Five years: all seven received; six handled on time, one late, none in progress now.
    assert (total["received"], total["on_time"], total["late"], total["in_progress"]) == (
        7,
        6,
        1,
        0,
    )
    text = CliRunner().invoke(
        app,
        ["report", "--db", db_url, "--kind", "feedback", "--period", "2021..2025", "-f", "text"],
    )
    assert text.stdout == (
        "Giai đoạn 2021–2025: tiếp nhận 7 phản ánh, kiến nghị; đã xử lý đúng hạn 6, quá hạn 1, "
        "đang xử lý 0.\n"
    )
    bad = CliRunner().invoke(app, ["report", "--db", db_url, "--kind", "complaints"])
    assert bad.exit_code == 2 and "--kind" in bad.output


def test_scorecard_group_5_by_hand(known: Engine, calendar: Calendar) -> None:
    card = scorecard(known.store, Period.parse("2025-03"), "level", calendar)
    commune = next(r for r in card.rows if r.key == "commune").scores
    # a, b, g answered within competence in March: a, g in time -> 2/3 × 6 = 4.
    assert (round(commune["5.1"].value or 0, 4), round(commune["5.1"].points or 0, 4)) == (
        0.6667,
        4.0,
    )
    # minus b (late) and a (rated 2): 1/3 × 6 = 2.
    assert (round(commune["5.2"].value or 0, 4), round(commune["5.2"].points or 0, 4)) == (
        0.3333,
        2.0,
    )
    # d was forwarded and f rejected: not handled within competence, no row scored for them.
    assert [r.key for r in card.rows] == ["commune"]


def test_rating_comment_kept_out_of_logs_and_chain(engine: Engine, clock: ManualClock) -> None:
    desk = FeedbackDesk(engine, LAW)
    clock.set(dt(2025, 3, 3, 9))
    item = desk.assign(
        desk.accept(desk.receive(channel="portal", subject="procedure", unit="W1").id).id, "x"
    )
    desk.answer(item.id)
    with capture_logs() as logs:
        desk.rate(item.id, 4, "sms", comment="Cán bộ Nguyễn Văn A nhiệt tình")
    assert logs and "Nguyễn" not in str(logs)
    assert "Nguyễn" not in str([e.data for e in desk.history(item.id)])
    with engine.store.read() as uow:
        row = uow.conn.execute(satisfaction.select()).mappings().one()
    assert (row["kind"], row["score"], row["channel"], row["answered_at"]) == (
        "feedback",
        4,
        "sms",
        dt(2025, 3, 3, 9),
    )
    assert row["comment"] == "Cán bộ Nguyễn Văn A nhiệt tình"


def test_dossier_rating_with_channel_and_time(engine: Engine, clock: ManualClock) -> None:
    d = engine.receive("COPY", "W1")
    finish(engine, clock, d.id, dt(2025, 1, 24, 10))
    engine.return_result(d.id)
    clock.set(dt(2025, 1, 24, 11))
    assert rate_dossier(engine, d.id, 5, "zalo", comment="nhanh").rating == 5
    with engine.store.read() as uow:
        row = uow.conn.execute(satisfaction.select()).mappings().one()
    assert (row["kind"], row["case_id"], row["channel"], row["answered_at"]) == (
        "dossier",
        d.id,
        "zalo",
        dt(2025, 1, 24, 11),
    )
    before = fingerprint(engine)
    with pytest.raises(InvalidTransition, match="already been rated"):
        rate_dossier(engine, d.id, 4, "zalo")
    assert fingerprint(engine) == before


def test_survey_import_all_or_nothing(engine: Engine, tmp_path: Path) -> None:
    good = tmp_path / "forms.csv"
    good.write_text(
        "form_id,answered_on,unit,score,channel,comment\n"
        "F-1,2024-05-02,W1,5,survey,\n"
        "F-2,2024-05-03,D1,2,survey,xếp hàng lâu\n"
        "F-3,2024-05-03,C,4,kiosk,\n",
        encoding="utf-8",
    )
    assert import_survey(engine, good) == 3
    may = feedback_report(engine.store, Period.parse("2024-05"), ["level"]).as_dict()
    assert may["satisfaction"] == {
        "survey": {"answers": 3, "satisfied": 2, "satisfied_share": 0.6667}
    }
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "form_id,answered_on,unit,score,channel,comment\n"
        "F-4,2024-05-04,W1,5,survey,\n"
        "F-5,2024-05-04,W1,7,survey,\n"
        "F-6,2024-13-01,XX,4,survey,\n"
        "F-4,2024-05-04,W1,5,survey,\n",
        encoding="utf-8",
    )
    before = fingerprint(engine)
    with pytest.raises(ImportRowsError) as caught:
        import_survey(engine, bad)
    where = [p.path for p in caught.value.problems]
    assert where == ["line 3.score", "line 4.answered_on", "line 4.unit", "line 5.form_id"]
    with pytest.raises(ImportRowsError, match="already imported: F-1, F-2, F-3"):
        import_survey(engine, good)
    assert fingerprint(engine) == before
