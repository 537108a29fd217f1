"""The Decision 766/QĐ-TTg scorecard: the service-quality index per unit or level for a period.

Decision 766/QĐ-TTg of 23 June 2022 approves the index for directing and evaluating the quality of
service to citizens and businesses in administrative procedures and public services, in real
time, on the electronic environment. It has five indicator groups worth 100 points in all:
publicity and transparency (công khai, minh bạch), progress and results (tiến độ, kết quả giải
quyết), digitisation (số hóa hồ sơ), online service (cung cấp dịch vụ trực tuyến) and
satisfaction (mức độ hài lòng).

What the sources consulted say (stored public pages, found with the project's search tool):

* The five groups and the formula of "procedures announced on time" (announced on time /
  announced in the period × 100 %, the deadline being Decree 63/2010 Art. 15):
  https://aita.gov.vn/thu-tuong-chinh-phu-ban-hanh-bo-chi-so-chi-dao-dieu-hanh-va-danh-gia-chat-luong-phuc-vu-nguoi-dan-doanh-nghiep-trong-thuc-hien-thu-tuc-hanh-chinh-dich-vu-cong-theo-thoi-gian-thuc-tren-moi-truong-dien-tu
* Satisfaction is worth 18 of 100 points, from three rates with their formulas (feedback handled
  on time; satisfaction with feedback handling; satisfaction with intake and resolution =
  (dossiers − dossiers rated unsatisfied or complained about) / dossiers × 100 %):
  https://vietjack.me/phap-luat/quyet-dinh-766-qd-ttg-2271.html and
  https://www.lamdong.dcs.vn/tin-tuc-su-kien/thong-tin-tong-hop/task/148/type/detail/id/33503
* "Satisfaction with intake and resolution" is worth up to 6 of the 18 (full points when the
  targets of Resolution 76/NQ-CP are met); procedures updated and published on time earn 4 of
  the 18 points of publicity; dossiers handled on time earn up to 20 points:
  https://baocaotaichinh.vn/thu-vien/quyet-dinh-766-qd-ttg-2022-phe-duyet-bo-chi-so-chi-dao--dieu-hanh-va-danh-gia-chat-luong-phuc-vu-nguoi-dan--doanh-nghiep-2108502745-126270
  (and /work/shared/domain.md: the timeliness group is worth up to 20 of 100).
* The progress group's indicators: the share of dossiers handled early or on time, and the
  average resolution time per procedure against its statutory time (headings of a Q&A page on
  the Decision's appendix, section I):
  http://118.69.201.250:801/phap-luat/ho-tro-phap-luat/huong-dan-xu-ly-so-lieu-nhom-chi-so-tien-do-ket-qua-giai-quyet-ho-so-thu-tuc-hanh-chinh-dich-vu-con-20943.html

What they do not say, and what this module uses instead (each marked ``assumed`` in the output):

* The points of the digitisation and online-service groups: 100 − 18 − 20 − 18 = 44 points are
  left for the two; each gets 22.
* The split of a group's points between its indicators, where not given: equal shares of what
  the sources leave (progress 10 + 10; digitisation 4 × 5.5; online 3 × 22/3; the two
  feedback indicators of satisfaction 6 + 6).
* The scoring formula: a share earns its share of the points (points = rate × maximum); the
  processing-time indicator earns full points at or under the statutory time and
  maximum × allowed / used above it. The Decision's full points on reaching the Resolution
  76/NQ-CP targets are not modelled.

Indicators that need data onestop does not hold (procedure announcement and publication
records) are listed with the reason and not scored; citizen feedback (phản ánh, kiến nghị) is
scored from the feedback items (:mod:`onestop.feedback`), a unit without any scoring nothing
there. A unit's total is the points earned out of the points its data could score.

Example:
    >>> [g.points for g in GROUPS], sum(g.points for g in GROUPS)
    ([18.0, 20.0, 22.0, 22.0, 18.0], 100.0)
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, func, select

from onestop.calendar import Calendar
from onestop.errors import ValidationError
from onestop.periods import Period
from onestop.presentation import Lang, Names, name_of
from onestop.report_sections import count_if
from onestop.reports import group_order
from onestop.store import Store, queries
from onestop.store.outbox import acknowledged
from onestop.store.schema import dossiers, events, feedback_cases, procedures, units
from onestop.timeliness import Timeliness

#: Scorecard groupings and the dossier column each reads.
BY: dict[str, str] = {"unit": "competent_unit", "level": "level"}
#: Ratings at or below this (of 1–5) count as "not satisfied" (3 is neutral, 4–5 satisfied).
UNSATISFIED_AT_MOST = 2


@dataclass(frozen=True)
class Indicator:
    """One indicator of the index.

    Attributes:
        code: ``group.n``, e.g. ``2.1``.
        name_vi: Vietnamese name.
        name_en: English name.
        formula: How onestop computes it (or the Decision's formula when it is not computable).
        points: Maximum points; ``None`` when the sources consulted do not give them.
        basis: Where the points come from: ``Decision`` or ``assumed: ...``.
        reason: Why onestop cannot compute it (``None`` when it can).
    """

    code: str
    name_vi: str
    name_en: str
    formula: str
    points: float | None
    basis: str
    reason: str | None = None

    @property
    def computable(self) -> bool:
        """Whether onestop's data supports the indicator."""
        return self.reason is None


@dataclass(frozen=True)
class Group:
    """An indicator group with its points of the 100."""

    code: str
    name_vi: str
    name_en: str
    points: float
    basis: str
    indicators: tuple[Indicator, ...]


_NO_ANNOUNCEMENTS = (
    "onestop holds no procedure-announcement or publication records (dates of the announcing "
    "decisions, of publication on the national procedure database)"
)

GROUPS: tuple[Group, ...] = (
    Group(
        "1",
        "Công khai, minh bạch",
        "Publicity and transparency",
        18.0,
        "Decision (4 of its 18 points: procedures published on time)",
        (
            Indicator(
                "1.1",
                "Tỷ lệ thủ tục hành chính công bố đúng hạn",
                "Procedures announced on time",
                "procedures announced on time / procedures announced in the period × 100 %",
                None,
                "not found in the sources consulted",
                _NO_ANNOUNCEMENTS,
            ),
            Indicator(
                "1.2",
                "Tỷ lệ thủ tục hành chính được cập nhật, công khai đúng hạn",
                "Procedures updated and published on time",
                "procedures published on time / procedures to publish × 100 %",
                4.0,
                "Decision",
                _NO_ANNOUNCEMENTS,
            ),
            Indicator(
                "1.3",
                "Tỷ lệ hồ sơ được đồng bộ trạng thái lên Cổng Dịch vụ công quốc gia",
                "Dossiers whose status the national portal has acknowledged",
                "dossiers received in the period whose status at the period's end the portal had "
                "acknowledged by then (their latest outbox message delivered) / dossiers received "
                "in the period × 100 %; shown, not scored",
                None,
                "not found in the sources consulted",
            ),
        ),
    ),
    Group(
        "2",
        "Tiến độ, kết quả giải quyết",
        "Progress and results",
        20.0,
        "Decision",
        (
            Indicator(
                "2.1",
                "Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn",
                "Dossiers resolved early or on time",
                "(early + on time) / resolved in the period × 100 %; points = rate × 10",
                10.0,
                "assumed: half of the group's 20",
            ),
            Indicator(
                "2.2",
                "Thời gian giải quyết trung bình so với thời gian quy định",
                "Average processing time against the statutory time",
                "Σ working days used (receipt → result) / Σ working days allowed (receipt → "
                "appointment in force before any apology letter), over dossiers resolved in the "
                "period, both measured by the working calendar (= average time used / average "
                "time allowed); points = 10 if ≤ 1, else 10 / ratio",
                10.0,
                "assumed: half of the group's 20",
            ),
        ),
    ),
    Group(
        "3",
        "Số hóa hồ sơ",
        "Digitisation",
        22.0,
        "assumed: half of the 44 points the sources leave to groups 3 and 4",
        (
            Indicator(
                "3.1",
                "Tỷ lệ hồ sơ được số hóa khi tiếp nhận",
                "Dossiers digitised at intake",
                "dossiers received in the period digitised at intake / those with it recorded "
                "× 100 %; points = rate × 5.5",
                5.5,
                "assumed: a quarter of the group",
            ),
            Indicator(
                "3.2",
                "Tỷ lệ khai thác, sử dụng lại dữ liệu số hóa",
                "Digitised data reused",
                "dossiers received in the period whose digitised data was reused / those with it "
                "recorded × 100 %; points = rate × 5.5",
                5.5,
                "assumed: a quarter of the group",
            ),
            Indicator(
                "3.3",
                "Tỷ lệ kết quả giải quyết được số hóa",
                "Results digitised",
                "dossiers resolved in the period with the result digitised / those with it "
                "recorded × 100 %; points = rate × 5.5",
                5.5,
                "assumed: a quarter of the group",
            ),
            Indicator(
                "3.4",
                "Tỷ lệ cấp kết quả điện tử",
                "Results issued electronically",
                "dossiers resolved in the period with an electronic result / those with it "
                "recorded × 100 %; points = rate × 5.5",
                5.5,
                "assumed: a quarter of the group",
            ),
        ),
    ),
    Group(
        "4",
        "Cung cấp dịch vụ trực tuyến",
        "Online service",
        22.0,
        "assumed: half of the 44 points the sources leave to groups 3 and 4",
        (
            Indicator(
                "4.1",
                "Tỷ lệ thủ tục hành chính cung cấp dịch vụ công trực tuyến",
                "Procedures offered online",
                "procedures of the level in the catalog in force at the period's end offered "
                "online (full or partial) / procedures of the level × 100 %; "
                "points = rate × 22/3",
                22.0 / 3,
                "assumed: a third of the group",
            ),
            Indicator(
                "4.2",
                "Tỷ lệ hồ sơ nộp trực tuyến",
                "Dossiers submitted online",
                "dossiers received in the period through the online channel / dossiers received "
                "× 100 %; points = rate × 22/3",
                22.0 / 3,
                "assumed: a third of the group",
            ),
            Indicator(
                "4.3",
                "Tỷ lệ hồ sơ thanh toán trực tuyến",
                "Payable dossiers paid online",
                "dossiers received in the period paid online / those with a payment recorded "
                "× 100 %; points = rate × 22/3",
                22.0 / 3,
                "assumed: a third of the group",
            ),
        ),
    ),
    Group(
        "5",
        "Mức độ hài lòng",
        "Satisfaction",
        18.0,
        "Decision",
        (
            Indicator(
                "5.1",
                "Tỷ lệ phản ánh, kiến nghị xử lý đúng hạn",
                "Citizen feedback handled on time",
                "feedback within the agency's competence answered in the period early or on "
                "time / feedback within competence answered in the period × 100 % (time limits: "
                "workflows/feedback.yaml); points = rate × 6",
                6.0,
                "assumed: half of the 12 points left after 5.3",
            ),
            Indicator(
                "5.2",
                "Tỷ lệ hài lòng trong xử lý phản ánh, kiến nghị",
                "Satisfaction with feedback handling",
                "(feedback within competence answered in the period − those answered late or "
                f"rated ≤ {UNSATISFIED_AT_MOST} of 5 by the sender) / feedback within competence "
                "answered in the period × 100 %; points = rate × 6",
                6.0,
                "assumed: half of the 12 points left after 5.3",
            ),
            Indicator(
                "5.3",
                "Tỷ lệ hài lòng trong tiếp nhận, giải quyết thủ tục hành chính",
                "Satisfaction with intake and resolution",
                f"(dossiers resolved in the period − those rated ≤ {UNSATISFIED_AT_MOST} of 5) / "
                "dossiers resolved in the period × 100 % (complaints about a dossier are not "
                "held); points = rate × 6",
                6.0,
                "Decision",
            ),
        ),
    ),
)
INDICATORS: dict[str, Indicator] = {i.code: i for g in GROUPS for i in g.indicators}


@dataclass(frozen=True)
class Score:
    """One indicator's value for one unit or level.

    Attributes:
        value: The rate (or, for 2.2, the ratio used / allowed); ``None`` with nothing to divide.
        numerator: What was counted (working days used for 2.2).
        denominator: What it was divided by (working days allowed for 2.2).
        points: Points earned; ``None`` when not scored.
    """

    value: float | None
    numerator: float
    denominator: float
    points: float | None


@dataclass
class Row:
    """The scorecard of one unit or level: its scores by indicator code."""

    key: str
    scores: dict[str, Score] = field(default_factory=dict)

    def group_points(self, group: Group) -> tuple[float, float]:
        """(points earned, points that could be scored) in ``group``."""
        earned = possible = 0.0
        for ind in group.indicators:
            score = self.scores.get(ind.code)
            if score is not None and score.points is not None and ind.points is not None:
                earned += score.points
                possible += ind.points
        return earned, possible

    @property
    def total(self) -> tuple[float, float]:
        """(points earned, points that could be scored) over every group."""
        pairs = [self.group_points(g) for g in GROUPS]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


@dataclass
class Scorecard:
    """The scorecard for a period, one row per unit or level."""

    period: Period
    by: str
    rows: list[Row]
    #: Names of codes from the stored definitions (see :func:`onestop.store.queries.names`).
    names: Names = field(default_factory=dict)

    def label(self, code: str, lang: Lang) -> str:
        """The name of a unit or level (its code when it has none)."""
        return name_of(self.names, self.by, code, lang)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the index's definitions (formulas, points, reasons) and the rows."""

        def num(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        groups = [
            {
                "code": g.code,
                "name_vi": g.name_vi,
                "name_en": g.name_en,
                "points": g.points,
                "basis": g.basis,
                "indicators": [
                    {
                        "code": i.code,
                        "name_vi": i.name_vi,
                        "name_en": i.name_en,
                        "formula": i.formula,
                        "points": num(i.points),
                        "basis": i.basis,
                        "computable": i.computable,
                        "reason": i.reason,
                    }
                    for i in g.indicators
                ],
            }
            for g in GROUPS
        ]
        rows = []
        for row in self.rows:
            earned, possible = row.total
            rows.append(
                {
                    self.by: row.key,
                    "name": self.label(row.key, "vi"),
                    "points": num(earned),
                    "points_possible": num(possible),
                    "groups": {
                        g.code: dict(
                            zip(
                                ("points", "points_possible"),
                                map(num, row.group_points(g)),
                                strict=True,
                            )
                        )
                        for g in GROUPS
                    },
                    "indicators": {
                        code: {
                            "value": num(s.value),
                            "numerator": num(s.numerator),
                            "denominator": num(s.denominator),
                            "points": num(s.points),
                        }
                        for code, s in row.scores.items()
                    },
                }
            )
        return {
            "decision": "766/QĐ-TTg (23 June 2022)",
            "period": self.period.label,
            "by": self.by,
            "total_points": 100,
            "groups": groups,
            "rows": rows,
        }

    def to_json(self) -> str:
        """The scorecard as JSON text."""
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)


def _share(code: str, part: float, whole: float) -> Score:
    """A rate scored in proportion: rate × the indicator's points."""
    points = INDICATORS[code].points
    if not whole or points is None:
        return Score(None, part, whole, None)
    rate = part / whole
    return Score(rate, part, whole, rate * points)


def _time_score(used: float, allowed: float) -> Score:
    """2.2: full points at or under the time allowed, ``points / ratio`` above it."""
    points = INDICATORS["2.2"].points
    if allowed <= 0 or points is None:
        return Score(None, used, allowed, None)
    ratio = used / allowed
    return Score(ratio, used, allowed, points if ratio <= 1 else points / ratio)


def _counts(conn: Connection, key: Any, where: Any, columns: list[Any]) -> dict[str, list[int]]:
    rows = conn.execute(select(key, *columns).where(where).group_by(key)).all()
    return {str(r[0]): [int(x or 0) for x in r[1:]] for r in rows}


def _working_time(
    conn: Connection, key: Any, period: Period, calendar: Calendar
) -> dict[str, tuple[float, float]]:
    """Per key: Σ working days used and Σ allowed by the dossiers resolved in ``period``.

    Allowed runs to the appointment in force before the first apology letter (the letter sets a
    new date but gives the dossier no more lawful time): the due time the event before the
    letter carried, else the dossier's due time (moved by pauses of the clock).
    """
    d = dossiers.c
    first = (
        select(events.c.dossier_id, func.min(events.c.seq).label("seq"))
        .where(events.c.trigger == "apologise")
        .group_by(events.c.dossier_id)
        .subquery()
    )
    before = events.alias("before_apology")
    query = (
        select(key, d.received_at, d.resolved_at, d.due_at, before.c.due_at)
        .select_from(
            dossiers.outerjoin(first, first.c.dossier_id == d.id).outerjoin(
                before,
                and_(before.c.dossier_id == d.id, before.c.seq == first.c.seq - 1),
            )
        )
        .where(d.resolved_on.between(period.start, period.end), d.received_at.is_not(None))
    )
    out: dict[str, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    for k, received, resolved, due, lawful_due in conn.execute(query):
        appointment = lawful_due if lawful_due is not None else due
        used = calendar.working_days_between(received, resolved)
        allowed = calendar.working_days_between(received, appointment)
        u, a = out[str(k)]
        out[str(k)] = (u + used, a + allowed)
    return out


def _online_catalog(conn: Connection, by: str, end: date) -> dict[str, tuple[int, int]]:
    """Per level (and so per unit of it): (procedures offered online, procedures) in the catalog
    version in force on ``end``."""
    latest: dict[tuple[str, str], tuple[int, str, str]] = {}
    query = select(
        procedures.c.unit_set,
        procedures.c.code,
        procedures.c.version,
        procedures.c.level,
        procedures.c.online,
        procedures.c.definition,
    )
    for unit_set, code, version, level, online, definition in conn.execute(query):
        since = (definition or {}).get("effective_from")
        if since is not None and date.fromisoformat(str(since)) > end:
            continue
        held = latest.get((unit_set, code))
        if held is None or version > held[0]:
            latest[(unit_set, code)] = (version, level, online)
    by_level: dict[str, tuple[int, int]] = {}
    for _version, level, online in latest.values():
        yes, of = by_level.get(level, (0, 0))
        by_level[level] = (yes + (online in ("full", "partial")), of + 1)
    if by == "level":
        return by_level
    unit_level = {str(r.code): str(r.level) for r in conn.execute(select(units))}
    return {u: by_level[lv] for u, lv in unit_level.items() if lv in by_level}


def scorecard(store: Store, period: Period, by: str, calendar: Calendar) -> Scorecard:
    """Compute the Decision 766 scorecard of every unit (or level) with dossiers in ``period``.

    Args:
        store: The database.
        period: Dossiers received or resolved in it are scored (each indicator says which).
        by: ``unit`` (the competent unit) or ``level``.
        calendar: The working calendar (processing time in working days comes from it).

    Raises:
        ValidationError: If ``by`` is neither ``unit`` nor ``level``.
        CalendarRangeError: If a dossier's times fall outside ``calendar``.
    """
    if by not in BY:
        raise ValidationError("by", f"{by!r} is not one of {', '.join(BY)}")
    d = dossiers.c
    key = d[BY[by]]
    received_in = d.received_on.between(period.start, period.end)
    resolved_in = d.resolved_on.between(period.start, period.end)
    with store.read() as uow:
        conn = uow.conn
        received = _counts(
            conn,
            key,
            received_in,
            [
                func.count(),
                count_if(d.channel == "online"),
                count_if(d.fee_paid_online.is_not(None)),
                count_if(d.fee_paid_online.is_(True)),
                count_if(d.digitised_intake.is_not(None)),
                count_if(d.digitised_intake.is_(True)),
                count_if(d.reused_data.is_not(None)),
                count_if(d.reused_data.is_(True)),
            ],
        )
        resolved = _counts(
            conn,
            key,
            resolved_in,
            [
                count_if(d.timeliness == Timeliness.EARLY.value),
                count_if(d.timeliness == Timeliness.ON_TIME.value),
                count_if(d.timeliness == Timeliness.LATE.value),
                count_if(d.result_digitised.is_not(None)),
                count_if(d.result_digitised.is_(True)),
                count_if(d.result_electronic.is_not(None)),
                count_if(d.result_electronic.is_(True)),
                count_if(d.rating <= UNSATISFIED_AT_MOST),
            ],
        )
        fb = feedback_cases.c
        answered = _counts(
            conn,
            fb.level if by == "level" else fb.unit,
            and_(
                fb.outcome == "within_competence", fb.resolved_on.between(period.start, period.end)
            ),
            [
                func.count(),
                count_if(fb.timeliness != Timeliness.LATE.value),
                count_if(
                    (fb.timeliness == Timeliness.LATE.value) | (fb.rating <= UNSATISFIED_AT_MOST)
                ),
            ],
        )
        times = _working_time(conn, key, period, calendar)
        synced = {
            str(k): (int(acked), int(n))
            for k, n, acked in conn.execute(acknowledged([key], period, period.bounds[1]))
        }
        catalog = _online_catalog(conn, by, period.end)
        names = queries.names(uow)
    rows = []
    for k in sorted(
        set(received) | set(resolved) | set(answered),
        key=lambda c: group_order([by], [c]),
    ):
        n, online, payable, paid_online, dig_of, dig, reuse_of, reuse = received.get(k, [0] * 8)
        early, on_time, late, rdig_of, rdig, el_of, el, unhappy = resolved.get(k, [0] * 8)
        done = early + on_time + late
        fb_done, fb_in_time, fb_unhappy = answered.get(k, [0] * 3)
        online_procs, procs = catalog.get(k, (0, 0))
        acked, of = synced.get(k, (0, 0))
        scores = {
            "1.3": Score(acked / of if of else None, acked, of, None),
            "2.1": _share("2.1", early + on_time, done),
            "2.2": _time_score(*times.get(k, (0.0, 0.0))),
            "3.1": _share("3.1", dig, dig_of),
            "3.2": _share("3.2", reuse, reuse_of),
            "3.3": _share("3.3", rdig, rdig_of),
            "3.4": _share("3.4", el, el_of),
            "4.1": _share("4.1", online_procs, procs),
            "4.2": _share("4.2", online, n),
            "4.3": _share("4.3", paid_online, payable),
            "5.1": _share("5.1", fb_in_time, fb_done),
            "5.2": _share("5.2", fb_done - fb_unhappy, fb_done),
            "5.3": _share("5.3", done - unhappy, done),
        }
        rows.append(Row(k, scores))
    return Scorecard(period, by, rows, names)
