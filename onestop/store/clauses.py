"""SQL forms of the core's timeliness predicates (:mod:`onestop.timeliness`).

Reports, alerts and worklists filter with these and nothing else, so a dossier is overdue in
SQL exactly when :func:`onestop.timeliness.is_overdue` says so; ``tests/test_clauses.py`` checks
both on random rows on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, case, literal

from onestop.status import OPEN_STATUSES
from onestop.store.schema import dossiers

_OPEN = sorted(s.value for s in OPEN_STATUSES)


def _instant(at: datetime) -> ColumnElement[datetime]:
    return literal(at, dossiers.c.due_at.type)


def is_open() -> ColumnElement[bool]:
    """``status`` is one of :data:`onestop.status.OPEN_STATUSES`."""
    return dossiers.c.status.in_(_OPEN)


def clock_reading(at: datetime) -> ColumnElement[datetime]:
    """SQL of :func:`onestop.timeliness.clock_reading`: ``paused_at`` if the clock stopped before
    ``at``, else ``at``."""
    paused = dossiers.c.paused_at
    return case((paused.is_not(None) & (paused < _instant(at)), paused), else_=_instant(at))


def overdue(due: ColumnElement[datetime], at: datetime) -> ColumnElement[bool]:
    """SQL of :func:`onestop.timeliness.is_overdue` for the due column ``due``
    (``dossiers.c.due_at`` or ``dossiers.c.step_due_at``).

    The redundant ``due < at`` (the clock never reads later than ``at``) lets the
    ``(status, due)`` index bound the scan.
    """
    return is_open() & due.is_not(None) & (due < _instant(at)) & (due < clock_reading(at))


def due_soon(due: ColumnElement[datetime], at: datetime, horizon: datetime) -> ColumnElement[bool]:
    """SQL of :func:`onestop.timeliness.is_due_soon`."""
    return (
        is_open()
        & dossiers.c.paused_at.is_(None)
        & due.is_not(None)
        & (due >= _instant(at))
        & (due <= _instant(horizon))
    )
