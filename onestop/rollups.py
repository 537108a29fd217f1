"""Daily rollups: one row per day × level × unit × procedure, so reports stay fast at any size.

The nightly job recomputes a day's rows from the dossiers (idempotent: delete, then insert):
receipts and resolutions of the day, and the open backlog at its end judged by each dossier's
state then (:func:`onestop.reports.open_as_of`). :func:`rollup_report` sums them for a period,
with the backlog of its last day, in the same grouping and shape as the live report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, literal, select

from onestop.clock import VN_TZ
from onestop.errors import ValidationError
from onestop.periods import Period
from onestop.report_sections import count_if, resolution_counts
from onestop.reports import Report, Row, open_as_of, order_rows
from onestop.store import Store, queries
from onestop.store.schema import daily_rollups, dossiers
from onestop.store.unit_of_work import UnitOfWork

#: Dimensions a rollup keeps (the others need the live report).
ROLLUP_DIMENSIONS = {
    "level": "level",
    "unit": "unit",
    "procedure": "procedure_code",
    "field": "field",
}


def snapshot_range(store: Store, start: date, end: date, now: datetime) -> int:
    """Recompute the rollup rows of every day from ``start`` to ``end`` inclusive.

    Two grouped scans over the date indexes (receipts, resolutions), whatever the span.
    """
    with store.begin() as conn:
        return _snapshot(conn, start, end, now)


#: The counted columns of a rollup row.
ROLLUP_COUNTS = (
    "received", "resolved", "early", "on_time", "late", "apologies", "online",
    "open_in_time", "open_overdue", "open_apologies",
)  # fmt: skip


def _snapshot(conn: Connection, start: date, end: date, now: datetime) -> int:
    conn.execute(delete(daily_rollups).where(daily_rollups.c.day.between(start, end)))
    rows = compute_rollups(UnitOfWork(conn), start, end, now)
    if rows:
        conn.execute(insert(daily_rollups), rows)
    return len(rows)


def compute_rollups(
    uow: UnitOfWork, start: date, end: date, now: datetime | None
) -> list[dict[str, Any]]:
    """The rollup rows of every day from ``start`` to ``end``, computed from the dossiers and
    their events (what :func:`snapshot_range` stores, and what verification recomputes).

    Args:
        uow: A unit of work (read or write).
        start: The first day.
        end: The last day.
        now: Stored as each row's ``computed_at``.
    """
    conn = uow.conn
    d = dossiers.c
    keys = [d.level, d.competent_unit, d.procedure_code, d.field]

    received = conn.execute(
        select(d.received_on, *keys, func.count(), count_if(d.channel == "online"))
        .where(d.received_on.between(start, end))
        .group_by(d.received_on, *keys)
    ).all()
    resolved = conn.execute(
        select(d.resolved_on, *keys, *resolution_counts(), count_if(d.apologies > 0))
        .where(d.resolved_on.between(start, end))
        .group_by(d.resolved_on, *keys)
    ).all()
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def row(key: tuple[Any, ...]) -> dict[str, Any]:
        if key not in rows:
            rows[key] = {
                "day": key[0], "level": key[1], "unit": key[2], "procedure_code": key[3],
                "field": key[4], "received": 0, "resolved": 0, "early": 0, "on_time": 0,
                "late": 0, "apologies": 0, "online": 0, "open_in_time": 0, "open_overdue": 0,
                "open_apologies": 0, "computed_at": now,
            }  # fmt: skip
        return rows[key]

    day = start
    while day <= end:
        midnight = datetime.combine(day + timedelta(days=1), time(), VN_TZ)
        for rec in conn.execute(open_as_of(keys, midnight, day)):
            r = row((day, *rec[:4]))
            r["open_in_time"], r["open_overdue"], r["open_apologies"] = (int(x) for x in rec[4:7])
        day += timedelta(days=1)

    for rec in received:
        r = row(tuple(rec[:5]))
        r["received"], r["online"] = int(rec[5]), int(rec[6])
    for rec in resolved:
        r = row(tuple(rec[:5]))
        r["early"], r["on_time"], r["late"], r["apologies"] = (int(x) for x in rec[5:9])
        r["resolved"] = r["early"] + r["on_time"] + r["late"]
    return list(rows.values())


def rollup_report(store: Store, period: Period, by: Sequence[str] = ("level",)) -> Report:
    """The on-time report summed from rollups: resolutions over the period, and the open
    backlog at its end (the snapshot of its last day; zero when that day is not rolled up yet).

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
    last_day = r.day == period.end

    def on_last_day(column: Any) -> Any:
        return func.coalesce(func.sum(case((last_day, column), else_=0)), 0)

    query = (
        select(
            *cols,
            func.sum(r.early),
            func.sum(r.on_time),
            func.sum(r.late),
            func.sum(r.apologies),
            on_last_day(r.open_in_time),
            on_last_day(r.open_overdue),
            on_last_day(r.open_apologies),
        )
        .where(r.day.between(period.start, period.end))
        .group_by(*cols)
    )
    with store.read() as uow:
        records = uow.conn.execute(query).all()
        names = queries.names(uow)
    rows: dict[tuple[Any, ...], Row] = {}
    n = len(dims)
    for rec in records:
        key = tuple(rec[:n])
        row = Row(dict(zip(dims, key, strict=True)))
        row.early, row.on_time, row.late = (int(x or 0) for x in rec[n : n + 3])
        row.resolved = row.early + row.on_time + row.late
        row.open_in_time, row.open_overdue = int(rec[n + 4]), int(rec[n + 5])
        row.apologies = int(rec[n + 3] or 0) + int(rec[n + 6])
        if row.resolved or row.open_in_time or row.open_overdue:
            rows[key] = row
    return Report(period, dims, period.bounds[1], order_rows(dims, rows), names=names)
