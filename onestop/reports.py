"""On-time reports: counts and rates grouped by level, unit, field... and by period.

On-time rate = (early + on time) / resolved, judged at resolution. Open dossiers are counted as
in time or overdue at the report's ``as_of`` time. The same queries run on real and simulated data.

Open dossiers are overdue by :func:`onestop.timeliness.is_overdue`, in its SQL form.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, exists, func, select

from onestop.errors import ValidationError
from onestop.periods import Period
from onestop.presentation import Lang, Names, name_of, percent
from onestop.report_sections import (
    Kpis,
    MonthPoint,
    ProcedureLateness,
    StepLateness,
    SyncShare,
    count_if,
    kpis,
    late_procedures,
    late_steps_by_agency,
    monthly_trend,
    resolution_counts,
    resolved_in,
    synchronisation,
)
from onestop.store import Store, clauses, queries
from onestop.store.schema import dossiers, events
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
    "procedure_version": "procedure_version",
    "unit_set": "unit_set",
    # Across a reorganisation: the unit at receipt, the unit now (a transferred dossier's
    # successor), and the unit at receipt rolled up to its successor by a mapping.
    "old_unit": "origin_unit",
    "new_unit": "competent_unit",
    "successor": "origin_unit",
}
#: Dimensions named after units (their names come from the units of every stored unit set).
UNIT_DIMENSIONS = ("unit", "intake_unit", "old_unit", "new_unit", "successor")


def dimension(dim: str) -> Any:
    """The SQL expression a dimension groups by (a transferred dossier's unit at receipt is
    its ``origin_unit``; a dossier never transferred is still where it was received)."""
    if dim in ("old_unit", "successor"):
        return func.coalesce(dossiers.c.origin_unit, dossiers.c.competent_unit)
    return dossiers.c[DIMENSIONS[dim]]


def successor_map(pairs: Sequence[tuple[str, str, str | None]]) -> dict[str, str]:
    """``old unit → successor`` from mapping entries ``(old, new, seat)``: the seat when the
    entry names one (an abolished district's dossiers go there), else the new unit."""
    return {old: seat or new for old, new, seat in pairs}


def _roll_up(rows: list[Row], dims: Sequence[str], successors: Mapping[str, str]) -> list[Row]:
    merged: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        key = {**row.key}
        key["successor"] = successors.get(str(key["successor"]), key["successor"])
        into = merged.setdefault(tuple(key[d] for d in dims), Row(key))
        into.resolved += row.resolved
        into.early += row.early
        into.on_time += row.on_time
        into.late += row.late
        into.open_in_time += row.open_in_time
        into.open_overdue += row.open_overdue
        into.apologies += row.apologies
    return order_rows(dims, merged)


_LEVEL_ORDER = {"city": 0, "province": 0, "district": 1, "commune": 2}


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


@dataclass
class Report:
    """An on-time report: its period, grouping, time of evaluation and rows."""

    period: Period
    by: list[str]
    as_of: datetime
    rows: list[Row] = field(default_factory=list)
    kpis: Kpis | None = None
    late_steps: list[StepLateness] | None = None
    late_procedures: list[ProcedureLateness] | None = None
    #: On-time figures per level and month (full reports).
    trend: list[MonthPoint] | None = None
    #: The on-time table by level and unit (full reports): each level's units with their names.
    unit_rows: list[Row] | None = None
    #: Synchronisation with the national portal by level and unit (full reports).
    sync: list[SyncShare] | None = None
    #: Names of the grouped codes from the stored definitions: dimension → code → (vi, en).
    names: Names = field(default_factory=dict)

    def label(self, dim: str, code: object, lang: Lang) -> str:
        """The name of ``code`` in dimension ``dim`` (the code itself when it has none)."""
        return name_of(self.names, dim, code, lang)

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
        if self.late_procedures is not None:
            data["late_procedures"] = [
                {"procedure": p.procedure, "resolved": p.resolved, "late": p.late}
                for p in self.late_procedures
            ]
        if self.trend is not None:
            data["trend"] = [
                {
                    "month": p.month.strftime("%Y-%m"),
                    "level": p.level,
                    "early": p.early,
                    "on_time": p.on_time,
                    "late": p.late,
                    "on_time_rate": None if p.on_time_rate is None else round(p.on_time_rate, 4),
                }
                for p in self.trend
            ]
        if self.unit_rows is not None:
            data["by_unit"] = [r.as_dict() for r in self.unit_rows]
        if self.sync is not None:
            data["synchronisation"] = [s.as_dict() for s in self.sync]
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
    successors: Mapping[str, str] | None = None,
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
        successors: Old unit → successor, for the ``successor`` dimension
            (:func:`successor_map` of a reorganisation's mapping).

    Raises:
        ValidationError: If a dimension is unknown, or ``successor`` has no mapping.
    """
    dims = dimensions(by, DIMENSIONS)
    if "successor" in dims and successors is None:
        raise ValidationError("by", "'successor' needs a reorganisation mapping")
    if as_of is None:
        as_of = period.bounds[1]
    cols = [dimension(d).label(d) for d in dims]
    resolved_q = (
        select(*cols, *resolution_counts(), count_if(dossiers.c.apologies > 0))
        .where(resolved_in(period, as_of))
        .group_by(*cols)
    )
    st = events.c
    as_of_cols = [(st.agency if d == "agency" else dimension(d)).label(d) for d in dims]
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
    for dim in UNIT_DIMENSIONS:
        names.setdefault(dim, names.get("unit", {}))
    ordered = order_rows(dims, rows)
    if successors is not None and "successor" in dims:
        ordered = _roll_up(ordered, dims, successors)
    return Report(period, dims, as_of, ordered, names=names)


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


def dimensions(by: Sequence[str], known: Iterable[str]) -> list[str]:
    """The grouping dimensions ``by`` of a report whose dimensions are ``known``.

    Raises:
        ValidationError: If a dimension is unknown (naming it and the known ones).
    """
    dims, choices = list(by), list(known)
    for dim in dims:
        if dim not in choices:
            raise ValidationError(
                "by", f"unknown dimension {dim!r}; choose from {', '.join(choices)}"
            )
    return dims


def level_order(level: str) -> tuple[int, str]:
    """Sort key of a level code: top-down (city, district, commune), then any other by text."""
    return (_LEVEL_ORDER.get(level, 9), level)


def group_order(dims: Sequence[str], values: Sequence[Any]) -> tuple[tuple[int, str], ...]:
    """Sort key of a group of a report by ``dims``, its codes ``values``: levels top-down
    (city, district, commune), the other dimensions by text.

    Example:
        >>> group_order(["level", "unit"], ("commune", "W1"))
        ((2, 'commune'), (0, 'W1'))
    """
    return tuple(
        level_order(str(v)) if d == "level" else (0, str(v))
        for d, v in zip(dims, values, strict=True)
    )


def order_rows(dims: Sequence[str], rows: dict[tuple[Any, ...], Row]) -> list[Row]:
    """Rows sorted by their key (:func:`group_order`)."""
    return [r for _, r in sorted(rows.items(), key=lambda item: group_order(dims, item[0]))]


def full_report(
    store: Store,
    period: Period,
    by: Sequence[str] = ("level",),
    as_of: datetime | None = None,
    successors: Mapping[str, str] | None = None,
) -> Report:
    """:func:`on_time_report` plus the KPIs, the month-by-month trend per level, the table by
    level and unit, the late procedures and late steps by agency, and the synchronisation with
    the national portal by level and unit.

    Raises:
        ValidationError: If a dimension is unknown.
    """
    report = on_time_report(store, period, by, as_of, successors)
    at = report.as_of
    report.unit_rows = (
        report.rows if list(by) == ["level", "unit"]
        else on_time_report(store, period, ["level", "unit"], at).rows
    )  # fmt: skip
    with store.read() as uow:
        report.kpis = kpis(uow, period)
        report.late_steps = late_steps_by_agency(uow, period)
        report.late_procedures = late_procedures(uow, period, at)
        report.trend = monthly_trend(uow, period, at)
        shares = synchronisation(uow, period, at)
    report.sync = sorted(shares, key=lambda s: level_order(s.level))  # stable: totals first
    return report
