"""Daily rollups: one row per day × level × unit × procedure, so reports stay fast at any size.

The nightly job recomputes a day's rows from the dossiers (idempotent: delete, then insert), and
:func:`rollup_report` sums them for a period with the same grouping and shape as the live report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, literal, select

from onestop.errors import ValidationError
from onestop.reports import Period, Report, Row, order_rows
from onestop.store.schema import daily_rollups, dossiers

#: Dimensions a rollup keeps (the others need the live report).
ROLLUP_DIMENSIONS = {
    "level": "level",
    "unit": "unit",
    "procedure": "procedure_code",
    "field": "field",
}


def snapshot_day(conn: Connection, day: date, now: datetime) -> int:
    """Recompute the rollup rows of ``day`` (local date); returns how many rows were written."""
    conn.execute(delete(daily_rollups).where(daily_rollups.c.day == day))
    t = dossiers.c.timeliness
    keys = [
        dossiers.c.level,
        dossiers.c.competent_unit,
        dossiers.c.procedure_code,
        dossiers.c.field,
    ]

    def count_if(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    resolved = dossiers.c.resolved_on == day
    query = (
        select(
            *keys,
            count_if(dossiers.c.received_on == day),
            count_if(resolved),
            count_if(resolved & (t == "early")),
            count_if(resolved & (t == "on_time")),
            count_if(resolved & (t == "late")),
            count_if(resolved & (dossiers.c.apologies > 0)),
            count_if((dossiers.c.received_on == day) & (dossiers.c.channel == "online")),
        )
        .where((dossiers.c.received_on == day) | resolved)
        .group_by(*keys)
    )
    rows = [
        {
            "day": day,
            "level": r[0],
            "unit": r[1],
            "procedure_code": r[2],
            "field": r[3],
            "received": int(r[4]),
            "resolved": int(r[5]),
            "early": int(r[6]),
            "on_time": int(r[7]),
            "late": int(r[8]),
            "apologies": int(r[9]),
            "online": int(r[10]),
            "computed_at": now,
        }
        for r in conn.execute(query)
    ]
    if rows:
        conn.execute(insert(daily_rollups), rows)
    return len(rows)


def snapshot_range(conn: Connection, start: date, end: date, now: datetime) -> int:
    """Recompute every day from ``start`` to ``end`` inclusive."""
    total, day = 0, start
    while day <= end:
        total += snapshot_day(conn, day, now)
        day += timedelta(days=1)
    return total


def rollup_report(conn: Connection, period: Period, by: Sequence[str] = ("level",)) -> Report:
    """The resolved part of the on-time report, summed from rollups (open counts are live-only).

    Raises:
        ValidationError: If a dimension is not kept by rollups.
    """
    dims = list(by)
    for dim in dims:
        if dim not in ROLLUP_DIMENSIONS:
            raise ValidationError(
                "by", f"rollups keep {', '.join(ROLLUP_DIMENSIONS)}; {dim!r} needs the live report"
            )
    cols: list[Any] = [daily_rollups.c[ROLLUP_DIMENSIONS[d]].label(d) for d in dims]
    cols = cols or [literal("all")]
    r = daily_rollups.c
    query = (
        select(
            *cols, func.sum(r.early), func.sum(r.on_time), func.sum(r.late), func.sum(r.apologies)
        )
        .where(r.day.between(period.start, period.end))
        .group_by(*cols)
    )
    rows: dict[tuple[Any, ...], Row] = {}
    n = len(dims)
    for rec in conn.execute(query):
        key = tuple(rec[:n])
        row = Row(dict(zip(dims, key, strict=True)))
        row.early, row.on_time, row.late = (int(x or 0) for x in rec[n : n + 3])
        row.resolved = row.early + row.on_time + row.late
        row.apologies = int(rec[n + 3] or 0)
        if row.resolved:
            rows[key] = row
    from onestop.clock import VN_TZ

    as_of = datetime.combine(period.end + timedelta(days=1), datetime.min.time(), VN_TZ)
    return Report(period, dims, as_of, order_rows(dims, rows))
