"""On-time reports: counts and rates grouped by level, unit, field... and by period.

On-time rate = (early + on time) / resolved, judged at resolution. Open dossiers are counted as
in time or overdue at the report's ``as_of`` time. The same queries run on real and simulated data.

Open dossiers are overdue by :func:`onestop.timeliness.is_overdue`, in its SQL form.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, case, exists, func, select

from onestop.errors import ValidationError
from onestop.periods import Period
from onestop.presentation import Lang, percent
from onestop.store import Store, clauses, queries
from onestop.store.schema import dossier_steps, dossiers, events
from onestop.timeliness import on_time_rate

#: Grouping dimensions and the dossier column each reads.
DIMENSIONS: dict[str, str] = {
    "level": "level",
    "unit": "competent_unit",
    "intake_unit": "intake_unit",
    "agency": "current_agency",
    "field": "field",
    "procedure": "procedure_code",
    "channel": "channel",
    "intake_mode": "intake_mode",
}
_LEVEL_ORDER = {"city": 0, "province": 0, "district": 1, "commune": 2}


def count_if(condition: Any) -> Any:
    """SQL: how many rows of the group meet ``condition`` (0 for an empty group)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@dataclass
class Row:
    """One group of the report."""

    key: dict[str, str | None]
    resolved: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    open_in_time: int = 0
    open_overdue: int = 0
    apologies: int = 0

    @property
    def on_time_rate(self) -> float | None:
        """(early + on time) / resolved, ``None`` when nothing was resolved."""
        return on_time_rate(self.early, self.on_time, self.late)

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data (rate as a fraction rounded to 4 decimals)."""
        rate = self.on_time_rate
        return {
            **self.key,
            "resolved": self.resolved,
            "early": self.early,
            "on_time": self.on_time,
            "late": self.late,
            "on_time_rate": round(rate, 4) if rate is not None else None,
            "open_in_time": self.open_in_time,
            "open_overdue": self.open_overdue,
            "apologies": self.apologies,
        }


@dataclass(frozen=True)
class Kpis:
    """The seed report's other indicators for dossiers received in a period (shares as
    fractions, ``None`` when there is nothing to divide by). Digitisation shares count only
    the dossiers for which it was recorded."""

    received: int
    online_share: float | None
    paid_online_share: float | None
    post_return_share: float | None
    satisfaction: float | None
    ratings: int
    location_independent: int
    digitised_share: float | None = None
    reuse_share: float | None = None
    results_digitised_share: float | None = None
    results_electronic_share: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, shares rounded to 4 decimals."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class StepLateness:
    """Per-step accountability: steps an agency finished in the period, and how many late."""

    agency: str
    completed: int
    late: int

    @property
    def late_share(self) -> float:
        """Late steps / completed steps."""
        return self.late / self.completed if self.completed else 0.0


@dataclass
class Report:
    """An on-time report: its period, grouping, time of evaluation and rows."""

    period: Period
    by: list[str]
    as_of: datetime
    rows: list[Row] = field(default_factory=list)
    kpis: Kpis | None = None
    late_steps: list[StepLateness] | None = None
    #: Names of the grouped codes from the stored definitions: dimension → code → (vi, en).
    names: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)

    def label(self, dim: str, code: object, lang: Lang) -> str:
        """The name of ``code`` in dimension ``dim`` (the code itself when it has none)."""
        pair = self.names.get(dim, {}).get(str(code))
        return str(code) if pair is None else pair[0 if lang == "vi" else 1]

    def as_dict(self) -> dict[str, Any]:
        """``{"period": ..., "by": [...], "as_of": ..., "rows": [...], "kpis": ...}``."""
        data: dict[str, Any] = {
            "period": self.period.label,
            "by": self.by,
            "as_of": self.as_of.isoformat(),
            "rows": [r.as_dict() for r in self.rows],
        }
        if self.kpis is not None:
            data["kpis"] = self.kpis.as_dict()
        if self.late_steps is not None:
            data["late_steps_by_agency"] = [
                {"agency": s.agency, "completed": s.completed, "late": s.late}
                for s in self.late_steps
            ]
        return data

    def to_json(self) -> str:
        """The report as JSON text."""
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)

    def to_csv(self) -> str:
        """The report as CSV text with a header line."""
        out = io.StringIO()
        rows = [r.as_dict() for r in self.rows]
        columns = [
            *self.by,
            "resolved",
            "early",
            "on_time",
            "late",
            "on_time_rate",
            "open_in_time",
            "open_overdue",
            "apologies",
        ]
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()

    def sentence(self, lang: str = "vi") -> str:
        """The city reports' sentence, e.g. "Năm 2024: tỷ lệ hồ sơ giải quyết đúng hẹn cấp
        thành phố đạt 99,96 %; cấp huyện 99,93 %; cấp xã 99,99 %." (needs ``by == ["level"]``)."""
        if self.by != ["level"]:
            raise ValidationError("by", "the sentence renderer needs --by level")
        parts = []
        for row in self.rows:
            level = str(row.key["level"])
            rate = row.on_time_rate
            if rate is None:
                continue
            if lang == "vi":
                parts.append((self.label("level", level, "vi"), percent(rate, "vi")))
            else:
                parts.append((f"{self.label('level', level, 'en')} level", percent(rate, "en")))
        if lang == "vi":
            if not parts:
                return f"{self.period.label_vi}: chưa có hồ sơ được giải quyết."
            head, *rest = parts
            text = (
                f"{self.period.label_vi}: tỷ lệ hồ sơ giải quyết đúng hẹn {head[0]} đạt {head[1]}"
            )
            return text + "".join(f"; {name} {pct}" for name, pct in rest) + "."
        if not parts:
            return f"{self.period.label_en}: no dossier resolved yet."
        head, *rest = parts
        text = f"{self.period.label_en}: dossiers resolved on time reached {head[1]} at {head[0]}"
        return text + "".join(f"; {pct} at {name}" for name, pct in rest) + "."


def on_time_report(
    store: Store,
    period: Period,
    by: Sequence[str] = ("level",),
    as_of: datetime | None = None,
) -> Report:
    """Compute the on-time report over the dossiers table.

    Args:
        store: The database.
        period: Dossiers resolved in this period are judged early/on time/late.
        by: Grouping dimensions, from :data:`DIMENSIONS`.
        as_of: The instant the report describes (default: the end of the period): open
            dossiers are counted from their status, holder and deadline at that instant (their
            state history), and resolutions after it are not counted, so the report for a
            given period and instant is the same whenever it is run.

    Raises:
        ValidationError: If a dimension is unknown.
    """
    dims = list(by)
    for dim in dims:
        if dim not in DIMENSIONS:
            raise ValidationError(
                "by", f"unknown dimension {dim!r}; choose from {', '.join(DIMENSIONS)}"
            )
    if as_of is None:
        as_of = period.bounds[1]
    cols = [dossiers.c[DIMENSIONS[d]].label(d) for d in dims]
    t = dossiers.c.timeliness

    resolved_q = (
        select(
            *cols,
            count_if(t == "early"),
            count_if(t == "on_time"),
            count_if(t == "late"),
            count_if(dossiers.c.apologies > 0),
        )
        .where(
            dossiers.c.resolved_on.between(period.start, period.end),
            dossiers.c.resolved_at <= clauses.instant(as_of),
        )
        .group_by(*cols)
    )
    st = events.c
    as_of_cols = [
        (st.agency if d == "agency" else dossiers.c[DIMENSIONS[d]]).label(d) for d in dims
    ]
    open_q = open_as_of(as_of_cols, as_of, period.end)
    rows: dict[tuple[Any, ...], Row] = {}
    n = len(dims)
    with store.read() as uow:
        resolved, still_open = uow.conn.execute(resolved_q).all(), uow.conn.execute(open_q).all()
        names = queries.names(uow)
    for rec in resolved:
        key = tuple(rec[:n])
        row = rows.setdefault(key, Row(dict(zip(dims, key, strict=True))))
        row.early, row.on_time, row.late = int(rec[n]), int(rec[n + 1]), int(rec[n + 2])
        row.resolved = row.early + row.on_time + row.late
        row.apologies += int(rec[n + 3])
    for rec in still_open:
        key = tuple(rec[:n])
        row = rows.setdefault(key, Row(dict(zip(dims, key, strict=True))))
        row.open_in_time, row.open_overdue = int(rec[n]), int(rec[n + 1])
        row.apologies += int(rec[n + 2])
    return Report(period, dims, as_of, order_rows(dims, rows), names=names)


def open_as_of(keys: Sequence[Any], as_of: datetime, received_by: date) -> Select[Any]:
    """SQL: dossiers open at ``as_of``, by ``keys``: in time, overdue, with an apology.

    Each dossier is judged by its state at that instant (its latest event at or before it
    carries its status, holder, deadline and clock stop), not by today's row, so a report about
    a past instant never changes. ``keys`` may use ``dossiers`` and ``events`` columns.

    Args:
        keys: Grouping columns.
        as_of: The instant.
        received_by: Only dossiers received on or before this local date.
    """
    st = events.c
    later = events.alias("later")
    at = clauses.instant(as_of)
    overdue = clauses.overdue(st.due_at, as_of, status=st.to_status, paused=st.paused_at)
    return (
        select(*keys, count_if(~overdue), count_if(overdue), count_if(st.apologies > 0))
        .select_from(dossiers.join(events, st.dossier_id == dossiers.c.id))
        .where(
            st.at <= at,
            ~exists().where(
                later.c.dossier_id == st.dossier_id, later.c.seq > st.seq, later.c.at <= at
            ),
            clauses.is_open(st.to_status),
            dossiers.c.received_on <= received_by,
        )
        .group_by(*keys)
    )


def order_rows(dims: Sequence[str], rows: dict[tuple[Any, ...], Row]) -> list[Row]:
    """Rows sorted by their key: levels top-down (city, district, commune), the rest by text."""

    def order(item: tuple[tuple[Any, ...], Row]) -> tuple[Any, ...]:
        return tuple(
            (_LEVEL_ORDER.get(str(v), 9), str(v)) if d == "level" else (0, str(v))
            for d, v in zip(dims, item[0], strict=True)
        )

    return [r for _, r in sorted(rows.items(), key=order)]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _kpis(conn: Connection, period: Period) -> Kpis:
    """Online, paid-online, postal-return, satisfaction and location-independent figures for
    dossiers received in ``period``."""
    d = dossiers.c
    digitisation = [d.digitised_intake, d.reused_data, d.result_digitised, d.result_electronic]
    row = conn.execute(
        select(
            func.count(),
            count_if(d.channel == "online"),
            count_if(d.fee_paid_online.is_not(None)),
            count_if(d.fee_paid_online.is_(True)),
            count_if(d.return_method == "post"),
            count_if(d.rating.is_not(None)),
            count_if(d.rating >= 4),
            count_if(d.intake_mode == "location_independent"),
            *[count_if(c.is_not(None)) for c in digitisation],
            *[count_if(c.is_(True)) for c in digitisation],
        ).where(d.received_on.between(period.start, period.end))
    ).one()
    values = [int(x or 0) for x in row]
    received, online, paid, paid_online, post, ratings, good, li = values[:8]
    recorded, done = values[8:12], values[12:16]
    shares = [_share(yes, of) for yes, of in zip(done, recorded, strict=True)]
    return Kpis(
        received=received,
        online_share=_share(online, received),
        paid_online_share=_share(paid_online, paid),
        post_return_share=_share(post, received),
        satisfaction=_share(good, ratings),
        ratings=ratings,
        location_independent=li,
        digitised_share=shares[0],
        reuse_share=shares[1],
        results_digitised_share=shares[2],
        results_electronic_share=shares[3],
    )


def _late_steps_by_agency(conn: Connection, period: Period) -> list[StepLateness]:
    """Steps completed in ``period`` by agency, most late first: who holds dossiers up."""
    s = dossier_steps
    start, end = period.bounds
    late = count_if(s.c.timeliness == "late")
    rows = conn.execute(
        select(s.c.agency, func.count(), late)
        .where(s.c.completed_at >= start, s.c.completed_at < end)
        .group_by(s.c.agency)
    ).all()
    out = [StepLateness(str(a), int(n), int(k)) for a, n, k in rows]
    return sorted(out, key=lambda x: (-x.late, -x.late_share, x.agency))


def full_report(
    store: Store, period: Period, by: Sequence[str] = ("level",), as_of: datetime | None = None
) -> Report:
    """:func:`on_time_report` plus the KPIs and the late steps by agency.

    Raises:
        ValidationError: If a dimension is unknown.
    """
    report = on_time_report(store, period, by, as_of)
    with store.read() as uow:
        report.kpis = _kpis(uow.conn, period)
        report.late_steps = _late_steps_by_agency(uow.conn, period)
    return report
