"""Due-soon and overdue alerts for citizen feedback, raised by the dossiers' sweep into the same
``alerts`` table (``dossier_id`` = minus the item's id, ``procedure_code`` = ``feedback``).

The predicates are the core's (:func:`onestop.feedback.is_overdue`, which is
:func:`onestop.timeliness.is_overdue` on an item being handled), in their SQL form
(:mod:`onestop.store.clauses`): an item being handled is judged as a ``processing`` dossier whose
clock never stops, any other as a finished one. One ``INSERT … SELECT … ON CONFLICT DO NOTHING``
per kind: an alert exists once per item and kind, whatever the number of sweeps.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, case, literal, select

from onestop.alerts import WHOLE_DOSSIER, Alert, AlertKind, _insert_alerts
from onestop.feedback import OPEN
from onestop.status import Status
from onestop.store import Store, clauses
from onestop.store.schema import alerts, feedback_cases

F = feedback_cases.c
#: The feedback status as the dossier status the core's predicate reads (see the module doc).
AS_DOSSIER_STATUS = case(
    (F.status.in_(sorted(s.value for s in OPEN)), literal(Status.PROCESSING.value)),
    else_=literal(Status.RETURNED.value),
)


def raise_feedback_alerts(
    store: Store, conn: Connection, now: datetime, threshold: datetime
) -> list[Alert]:
    """Raise the feedback alerts due at ``now`` (due soon: limit before ``threshold``)."""
    raised: list[Alert] = []
    no_pause = literal(None, F.due_at.type)  # a feedback item's clock never stops
    for kind in (AlertKind.OVERDUE, AlertKind.DUE_SOON):
        if kind is AlertKind.OVERDUE:
            where = clauses.overdue(F.due_at, now, status=AS_DOSSIER_STATUS, paused=no_pause)
        else:
            where = clauses.due_soon(
                F.due_at, now, threshold, status=AS_DOSSIER_STATUS, paused=no_pause
            )
        source = select(
            -F.id, literal(WHOLE_DOSSIER), literal(kind.value), F.agency, F.unit, F.level,
            literal("feedback"), F.due_at, literal(now, alerts.c.raised_at.type), literal(0),
        ).where(F.status.in_(sorted(s.value for s in OPEN)), where)  # fmt: skip
        raised += _insert_alerts(store, conn, source)
    return raised
