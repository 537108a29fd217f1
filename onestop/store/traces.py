"""Streaming reads of the event log for export: dossiers with their events and steps, in order.

:func:`traces` walks the dossiers created in a window by id (keyset pages of ``page`` dossiers),
and reads each page's events and steps with two indexed range queries, so an export of any size
holds one page in memory. Only the columns an event log may show are read: never an event's
``data`` (which records the applicant's details at intake) nor its ``actor``. The applicant is
read as one opaque key (ID number, else name), for the exporter to pseudonymise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, case, cast, func, literal, select

from onestop.store.schema import agencies, dossier_steps, dossiers, events, personal_data, units
from onestop.store.unit_of_work import UnitOfWork

#: Dossiers read per page by :func:`traces`.
PAGE = 1000

_DOSSIER_COLUMNS = (
    dossiers.c.id,
    dossiers.c.reference,
    dossiers.c.procedure_code,
    dossiers.c.procedure_version,
    dossiers.c.field,
    dossiers.c.level,
    dossiers.c.competent_unit,
    dossiers.c.intake_unit,
    dossiers.c.intake_mode,
    dossiers.c.channel,
    dossiers.c.return_method,
    dossiers.c.resolved_at,
    dossiers.c.timeliness,
)
_EVENT_COLUMNS = (
    events.c.id,
    events.c.dossier_id,
    events.c.seq,
    events.c.at,
    events.c.trigger,
    events.c.from_status,
    events.c.to_status,
    events.c.step_index,
    events.c.agency,
    events.c.unit,
    events.c.due_at,
    events.c.paused_at,
)
_STEP_COLUMNS = (
    dossier_steps.c.dossier_id,
    dossier_steps.c.seq,
    dossier_steps.c.step_code,
    dossier_steps.c.agency,
    dossier_steps.c.due_at,
    dossier_steps.c.completed_at,
    dossier_steps.c.timeliness,
)


@dataclass(frozen=True, slots=True)
class Trace:
    """One dossier as an event log shows it.

    Attributes:
        dossier: The dossier's columns (:data:`_DOSSIER_COLUMNS`) and ``applicant_key``: the
            vault's blind index of the applicant's ID number (``id:...``), else the dossier's
            vault reference (``ref:...``), else ``None`` — to be pseudonymised again.
        events: Its events before the window's end, oldest first.
        steps: Its route steps started before the window's end, in route order.
    """

    dossier: dict[str, Any]
    events: list[dict[str, Any]]
    steps: list[dict[str, Any]]


def applicant_key() -> ColumnElement[str]:
    """SQL: the applicant's opaque key (see :class:`Trace`), from the personal-data vault: the
    ID number's blind index (``id:...``, the same for every dossier of one citizen), else the
    dossier's vault reference (``ref:...``), else ``None``. Never the data itself."""
    pd = personal_data.c
    by_id = literal("id:", String) + cast(pd.id_index, String)
    by_ref = literal("ref:", String) + cast(pd.ref, String)
    return (
        select(case((pd.id_index.is_not(None), by_id), else_=by_ref))
        .where(pd.dossier_id == dossiers.c.id)
        .limit(1)
        .scalar_subquery()
    )


def _window(since: datetime, until: datetime, unit: str | None) -> ColumnElement[bool]:
    created = and_(dossiers.c.created_at >= since, dossiers.c.created_at < until)
    return created if unit is None else and_(created, dossiers.c.competent_unit == unit)


def count(uow: UnitOfWork, since: datetime, until: datetime, unit: str | None = None) -> int:
    """How many dossiers were created in ``[since, until)`` (at ``unit``, if given)."""
    query = select(func.count()).select_from(dossiers).where(_window(since, until, unit))
    return int(uow.conn.execute(query).scalar_one())


def competent_units(uow: UnitOfWork, since: datetime, until: datetime) -> list[str]:
    """The competent units of the dossiers created in ``[since, until)``, sorted."""
    query = (
        select(dossiers.c.competent_unit)
        .where(_window(since, until, None))
        .distinct()
        .order_by(dossiers.c.competent_unit)
    )
    return list(uow.conn.execute(query).scalars())


def _dicts(uow: UnitOfWork, query: Select[Any]) -> list[dict[str, Any]]:
    # zip over the plain rows: RowMapping's per-row key lookups cost more than the read.
    result = uow.conn.execute(query)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def traces(
    uow: UnitOfWork,
    since: datetime,
    until: datetime,
    *,
    unit: str | None = None,
    page: int = PAGE,
) -> Iterator[Trace]:
    """The dossiers created in ``[since, until)`` by id, each with its events and steps before
    ``until`` (so an export for a closed window is the same whenever it runs).

    Args:
        uow: A reading unit of work.
        since: Start of the window (inclusive).
        until: End of the window (exclusive); later events and steps are left out.
        unit: Only the dossiers of this competent unit.
        page: Dossiers read per page.
    """
    last = 0
    columns = (*_DOSSIER_COLUMNS, applicant_key().label("applicant_key"))
    while True:
        query = (
            select(*columns)
            .where(_window(since, until, unit), dossiers.c.id > last)
            .order_by(dossiers.c.id)
            .limit(page)
        )
        rows = _dicts(uow, query)
        if not rows:
            return
        first, last = rows[0]["id"], rows[-1]["id"]
        by_id: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
            r["id"]: ([], []) for r in rows
        }
        # Id ranges, not IN lists: the (dossier_id, seq) keys make both range scans.
        event_query = (
            select(*_EVENT_COLUMNS)
            .where(events.c.dossier_id.between(first, last), events.c.at < until)
            .order_by(events.c.dossier_id, events.c.seq)
        )
        for e in _dicts(uow, event_query):
            slot = by_id.get(e["dossier_id"])
            if slot is not None:
                slot[0].append(e)
        step_query = (
            select(*_STEP_COLUMNS)
            .where(
                dossier_steps.c.dossier_id.between(first, last),
                dossier_steps.c.started_at < until,
            )
            .order_by(dossier_steps.c.dossier_id, dossier_steps.c.seq)
        )
        for s in _dicts(uow, step_query):
            slot = by_id.get(s["dossier_id"])
            if slot is not None:
                slot[1].append(s)
        for row in rows:
            evs, sts = by_id[row["id"]]
            yield Trace(row, evs, sts)


def applicant_keys(
    uow: UnitOfWork, since: datetime, until: datetime, unit: str | None = None
) -> Iterator[str]:
    """The distinct applicant keys (see :class:`Trace`) of the dossiers created in the window,
    streamed (the database removes duplicates, so memory stays flat)."""
    key = applicant_key()
    query = (
        select(key.label("key"))
        .where(_window(since, until, unit), key.is_not(None))
        .distinct()
        .order_by(key)
    )
    for value in uow.conn.execute(query.execution_options(yield_per=PAGE)).scalars():
        yield str(value)


def directory(uow: UnitOfWork) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The stored agencies and units by code: ``({code: {name, unit, role}}, {code: {name,
    level}})`` (a code defined in several unit sets keeps one of its rows)."""
    agency_rows = uow.conn.execute(
        select(agencies.c.code, agencies.c.name, agencies.c.unit, agencies.c.role)
    ).mappings()
    unit_rows = uow.conn.execute(select(units.c.code, units.c.name, units.c.level)).mappings()
    return (
        {a["code"]: {"name": a["name"], "unit": a["unit"], "role": a["role"]} for a in agency_rows},
        {u["code"]: {"name": u["name"], "level": u["level"]} for u in unit_rows},
    )
