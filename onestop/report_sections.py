"""The parts of a full report beyond the on-time table: other indicators (KPIs), a month-by-month
on-time trend per level, who and what is late (procedures, agencies' steps), and the share of
dossiers whose status the national portal has acknowledged.

Each section is one query over the same tables as :mod:`onestop.reports`, judged by the same
stored classification (``dossiers.timeliness``, set at resolution by
:func:`onestop.timeliness.classify_resolution`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select

from onestop.periods import Period
from onestop.store import clauses
from onestop.store import outbox as outbox_sql
from onestop.store.schema import dossier_steps, dossiers
from onestop.store.unit_of_work import UnitOfWork
from onestop.timeliness import Timeliness, on_time_rate


def count_if(condition: Any) -> Any:
    """SQL: how many rows of the group meet ``condition`` (0 for an empty group)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def resolution_counts() -> list[Any]:
    """SQL: how many of the group were resolved early, on time and late (in that order), by
    the classification stored at resolution."""
    t = dossiers.c.timeliness
    return [count_if(t == c.value) for c in (Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE)]


def resolved_in(period: Period, as_of: datetime) -> Any:
    """SQL: the dossiers a report for ``period`` as of ``as_of`` judges at resolution."""
    return dossiers.c.resolved_on.between(period.start, period.end) & (
        dossiers.c.resolved_at <= clauses.instant(as_of)
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


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


@dataclass(frozen=True)
class ProcedureLateness:
    """A procedure's dossiers resolved in the period, and how many of them late."""

    procedure: str
    resolved: int
    late: int

    @property
    def late_share(self) -> float:
        """Late / resolved."""
        return self.late / self.resolved if self.resolved else 0.0


@dataclass(frozen=True)
class MonthPoint:
    """One level's resolutions in one calendar month (``month`` is its first day)."""

    month: date
    level: str
    early: int
    on_time: int
    late: int

    @property
    def resolved(self) -> int:
        """Early + on time + late."""
        return self.early + self.on_time + self.late

    @property
    def on_time_rate(self) -> float | None:
        """(early + on time) / resolved, ``None`` when nothing was resolved."""
        return on_time_rate(self.early, self.on_time, self.late)


def kpis(uow: UnitOfWork, period: Period) -> Kpis:
    """Online, paid-online, postal-return, satisfaction, location-independent and digitisation
    figures for dossiers received in ``period``."""
    d = dossiers.c
    digitisation = [d.digitised_intake, d.reused_data, d.result_digitised, d.result_electronic]
    row = uow.conn.execute(
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


def late_steps_by_agency(uow: UnitOfWork, period: Period) -> list[StepLateness]:
    """Steps completed in ``period`` by agency, most late first: who holds dossiers up."""
    s = dossier_steps
    start, end = period.bounds
    late = count_if(s.c.timeliness == "late")
    rows = uow.conn.execute(
        select(s.c.agency, func.count(), late)
        .where(s.c.completed_at >= start, s.c.completed_at < end)
        .group_by(s.c.agency)
    ).all()
    out = [StepLateness(str(a), int(n), int(k)) for a, n, k in rows]
    return sorted(out, key=lambda x: (-x.late, -x.late_share, x.agency))


def late_procedures(uow: UnitOfWork, period: Period, as_of: datetime) -> list[ProcedureLateness]:
    """Procedures with late resolutions in ``period`` (as of ``as_of``), most late first."""
    d = dossiers.c
    rows = uow.conn.execute(
        select(d.procedure_code, func.count(), count_if(d.timeliness == "late"))
        .where(resolved_in(period, as_of))
        .group_by(d.procedure_code)
    ).all()
    out = [ProcedureLateness(str(p), int(n), int(k)) for p, n, k in rows if k]
    return sorted(out, key=lambda x: (-x.late, -x.late_share, x.procedure))


def monthly_trend(uow: UnitOfWork, period: Period, as_of: datetime) -> list[MonthPoint]:
    """Resolutions per level and calendar month of ``period`` (as of ``as_of``), by month then
    level code. Grouped by day in SQL (portable across backends), summed to months here."""
    d = dossiers.c
    rows = uow.conn.execute(
        select(d.level, d.resolved_on, *resolution_counts())
        .where(resolved_in(period, as_of))
        .group_by(d.level, d.resolved_on)
    ).all()
    months: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for level, day, early, on_time, late in rows:
        sums = months[(day.replace(day=1), str(level))]
        sums[0] += int(early)
        sums[1] += int(on_time)
        sums[2] += int(late)
    return [MonthPoint(m, lv, *sums) for (m, lv), sums in sorted(months.items())]


@dataclass(frozen=True)
class SyncShare:
    """Synchronisation with the national portal for a level (``unit`` None) or one of its
    units: dossiers received in the period, and how many had their status at the report's
    instant acknowledged by the portal (see :func:`onestop.store.outbox.acknowledged`)."""

    level: str
    unit: str | None
    dossiers: int
    acknowledged: int

    @property
    def share(self) -> float | None:
        """acknowledged / dossiers (``None`` without dossiers)."""
        return _share(self.acknowledged, self.dossiers)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, the share rounded to 4 decimals."""
        share = self.share
        return {
            "level": self.level,
            "unit": self.unit,
            "dossiers": self.dossiers,
            "acknowledged": self.acknowledged,
            "share": None if share is None else round(share, 4),
        }


def synchronisation(uow: UnitOfWork, period: Period, as_of: datetime) -> list[SyncShare]:
    """Per level, then each of its units: the share of dossiers received in ``period`` whose
    status at ``as_of`` the portal had acknowledged by then (each level's total first, then its
    units by code)."""
    query = outbox_sql.acknowledged([dossiers.c.level, dossiers.c.competent_unit], period, as_of)
    units: dict[str, list[SyncShare]] = defaultdict(list)
    for level, unit, n, acked in uow.conn.execute(query):
        units[str(level)].append(SyncShare(str(level), str(unit), int(n), int(acked)))
    out: list[SyncShare] = []
    for level, rows in units.items():
        rows.sort(key=lambda r: str(r.unit))
        total = SyncShare(
            level, None, sum(r.dossiers for r in rows), sum(r.acknowledged for r in rows)
        )
        out += [total, *rows]
    return out
