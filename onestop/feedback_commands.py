"""The feedback desk: citizen feedback handled on the same engine as dossiers.

Every command validates its arguments, checks who acts (:class:`~onestop.feedback_access.
FeedbackPolicy` when the desk has a policy), fires its trigger on the shared feedback machine,
computes the deadlines with the pure core (:mod:`onestop.feedback`, which calls
:mod:`onestop.deadlines` and :mod:`onestop.timeliness`), and writes the item's row and exactly
one event — in the same store, the same hash-chained log and the same transaction. Bad input
raises a typed error and changes nothing. Reads are authorized like commands.

The desk gathers the commands by what they are about — :mod:`onestop.feedback_intake`,
:mod:`onestop.feedback_handling`, :mod:`onestop.feedback_rating`, over the pipeline of
:mod:`onestop.feedback_pipeline` — and adds the queries.

Example:
    >>> from datetime import datetime
    >>> from onestop import Engine, ManualClock, VN_TZ
    >>> from onestop.feedback import FeedbackLaw
    >>> clock = ManualClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ))
    >>> engine = Engine.open("sqlite://", "tests/fixtures/workflows", clock=clock, dev=True)
    >>> desk = FeedbackDesk(engine, FeedbackLaw.load("workflows"))
    >>> item = desk.receive(channel="portal", subject="procedure", unit="W1")
    >>> item.status.value, item.due_at.isoformat()
    ('received', '2025-03-10T09:00:00+07:00')
"""

from __future__ import annotations

from datetime import datetime

from onestop.access import Actor, Forbidden
from onestop.arguments import Meta, validated
from onestop.feedback import is_due_soon, is_overdue
from onestop.feedback_handling import FeedbackHandling
from onestop.feedback_intake import FeedbackIntake
from onestop.feedback_item import FeedbackEvent, FeedbackItem
from onestop.feedback_rating import FeedbackRating
from onestop.inputs import dossier_id as valid_id
from onestop.store import feedback_rows

__all__ = ["FeedbackDesk", "FeedbackEvent", "FeedbackItem"]


class FeedbackDesk(FeedbackIntake, FeedbackHandling, FeedbackRating):
    """Commands and queries on citizen feedback, over an :class:`~onestop.engine.Engine`'s
    store, calendar, clock, units and rule sets: :meth:`receive`; :meth:`accept`,
    :meth:`forward`, :meth:`reject`, :meth:`assign`, :meth:`extend`, :meth:`answer`,
    :meth:`publish`, :meth:`close`; :meth:`rate`; and the queries below.

    Args:
        engine: The engine whose store, calendar, clock and definitions are used.
        law: The feedback time limits (``FeedbackLaw.load("workflows")``).
        policy: Who may do what (default: none, every caller trusted). With a policy every
            command and read needs an :class:`~onestop.access.Actor`.
    """

    def get(self, feedback_id: int, *, actor: Actor | str | None = None) -> FeedbackItem:
        """The item as stored (authorized as ``read``).

        Raises:
            UnknownFeedback, ValidationError, Forbidden.
        """
        meta = validated(Meta, actor=actor)
        feedback_id = valid_id(feedback_id, "feedback_id")
        with self.engine.store.read() as uow:
            row = feedback_rows.load_case(uow.conn, feedback_id)
        self._authorize(meta, "read", row)
        return FeedbackItem.from_row(row)

    def history(self, feedback_id: int, *, actor: Actor | str | None = None) -> list[FeedbackEvent]:
        """The item's events, oldest first (authorized as ``read``).

        Raises:
            UnknownFeedback, ValidationError, Forbidden.
        """
        meta = validated(Meta, actor=actor)
        feedback_id = valid_id(feedback_id, "feedback_id")
        with self.engine.store.read() as uow:
            row = feedback_rows.load_case(uow.conn, feedback_id)
            self._authorize(meta, "read", row)
            rows = feedback_rows.history(uow.conn, feedback_id)
        return [FeedbackEvent.from_row(r) for r in rows]

    def open_items(
        self,
        *,
        overdue_at: datetime | None = None,
        due_soon: tuple[datetime, datetime] | None = None,
        actor: Actor | str | None = None,
    ) -> list[FeedbackItem]:
        """Items being handled, by time limit; only those overdue at ``overdue_at``, or falling
        due between the two instants of ``due_soon`` (the core's predicates). With a policy,
        only those ``actor`` may read.

        Raises:
            ValidationError: A malformed ``actor``.
            Forbidden: With a policy, if ``actor`` is not an :class:`~onestop.access.Actor`.
        """
        meta = validated(Meta, actor=actor)
        if self.policy is not None and not isinstance(meta.actor, Actor):
            raise Forbidden("read: this desk requires an Actor for every command")
        with self.engine.store.read() as uow:
            rows = feedback_rows.open_cases(uow.conn)
        if overdue_at is not None:
            rows = [r for r in rows if is_overdue(r["status"], r["due_at"], overdue_at)]
        if due_soon is not None:
            rows = [r for r in rows if is_due_soon(r["status"], r["due_at"], *due_soon)]
        if self.policy is not None:
            rows = [r for r in rows if self._may(meta, "read", r)]
        return [FeedbackItem.from_row(r) for r in rows]
