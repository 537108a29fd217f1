"""SQL forms of the core's timeliness predicates (:mod:`onestop.timeliness`).

Reports, alerts and worklists filter with these and nothing else, so a dossier is overdue in
SQL exactly when :func:`onestop.timeliness.is_overdue` says so; ``tests/test_overdue.py`` checks
both on random rows on SQLite and PostgreSQL. Each takes the columns it reads, the ``dossiers``
table's by default, so the same predicate judges a dossier's state as of a past instant
(the ``events`` row in force then).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ColumnElement, case, literal

from onestop.status import OPEN_STATUSES
from onestop.store.schema import dossiers

_OPEN = sorted(s.value for s in OPEN_STATUSES)

Status = ColumnElement[str] | Column[str]
Moment = ColumnElement[datetime] | Column[datetime]


def instant(at: datetime) -> ColumnElement[datetime]:
    """``at`` as a bound timestamp, stored the way the tables store theirs."""
    return literal(at, dossiers.c.due_at.type)


def is_open(status: Status = dossiers.c.status) -> ColumnElement[bool]:
    """``status`` is one of :data:`onestop.status.OPEN_STATUSES`."""
    return status.in_(_OPEN)


def clock_reading(at: datetime, paused: Moment = dossiers.c.paused_at) -> ColumnElement[datetime]:
    """SQL of :func:`onestop.timeliness.clock_reading`: ``paused`` if the clock stopped before
    ``at``, else ``at``."""
    return case((paused.is_not(None) & (paused < instant(at)), paused), else_=instant(at))


def overdue(
    due: Moment,
    at: datetime,
    *,
    status: Status = dossiers.c.status,
    paused: Moment = dossiers.c.paused_at,
) -> ColumnElement[bool]:
    """SQL of :func:`onestop.timeliness.is_overdue` for the due column ``due``
    (``dossiers.c.due_at`` or ``dossiers.c.step_due_at``).

    The redundant ``due < at`` (the clock never reads later than ``at``) lets the
    ``(status, due)`` index bound the scan.
    """
    return (
        is_open(status) & due.is_not(None) & (due < instant(at)) & (due < clock_reading(at, paused))
    )


def due_soon(
    due: Moment,
    at: datetime,
    horizon: datetime,
    *,
    status: Status = dossiers.c.status,
    paused: Moment = dossiers.c.paused_at,
) -> ColumnElement[bool]:
    """SQL of :func:`onestop.timeliness.is_due_soon`."""
    return (
        is_open(status)
        & paused.is_(None)
        & due.is_not(None)
        & (due >= instant(at))
        & (due <= instant(horizon))
    )
