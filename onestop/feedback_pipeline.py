"""The feedback desk's pipeline: what every command on citizen feedback goes through.

A command validates its arguments, checks who acts (:class:`~onestop.feedback_access.
FeedbackPolicy` when the desk has a policy), fires its trigger on the shared feedback machine,
runs its plan (deadlines and judgements from the pure core, :mod:`onestop.feedback`) and writes
the item's row and exactly one event — through the engine's
:class:`~onestop.recorder.EventRecorder`, so in the same store, the same hash-chained log and the
same transaction as dossiers. The commands themselves are grouped by what they are about:
:mod:`onestop.feedback_intake` (receipt), :mod:`onestop.feedback_handling` (classification,
handling, answer) and :mod:`onestop.feedback_rating` (the sender's satisfaction).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog

from onestop.access import Actor, Forbidden
from onestop.arguments import Meta, _Args, actor_id, validated
from onestop.clock import local_date
from onestop.engine import Engine
from onestop.errors import StaleVersion
from onestop.feedback import FeedbackFacts, FeedbackLaw, FeedbackLifecycle, FeedbackStatus
from onestop.feedback_access import FeedbackPolicy
from onestop.feedback_item import FeedbackItem
from onestop.inputs import dossier_id as valid_id
from onestop.store import UnitOfWork, feedback_rows, to_json
from onestop.units import Units

log = structlog.get_logger("onestop.feedback")

#: A command's plan: ``(row, now, args)`` → (the columns it sets, what the event records beyond
#: the arguments).
Plan = Callable[[Mapping[str, Any], datetime, Any], tuple[dict[str, Any], dict[str, Any]]]
#: Work a command does beside its row and event, in the same unit of work: ``(uow, row after,
#: now)``.
Also = Callable[[UnitOfWork, Mapping[str, Any], datetime], None]


class FeedbackPipeline:
    """The pipeline shared by the feedback desk's commands, over an
    :class:`~onestop.engine.Engine`'s store, recorder, calendar, clock, units and rule sets.

    Args:
        engine: The engine whose store, calendar, clock and definitions are used.
        law: The feedback time limits (``FeedbackLaw.load("workflows")``).
        policy: Who may do what (default: none, every caller trusted). With a policy every
            command and read needs an :class:`~onestop.access.Actor`.
    """

    def __init__(
        self, engine: Engine, law: FeedbackLaw, policy: FeedbackPolicy | None = None
    ) -> None:
        self.engine = engine
        self.law = law
        self.policy = policy
        self.lifecycle = FeedbackLifecycle()

    def _authorize(self, meta: Meta, trigger: str, case: Mapping[str, Any]) -> None:
        """Check that ``meta``'s actor may run ``trigger`` on ``case`` (with a policy).

        Raises:
            Forbidden: If not (logged without personal data).
        """
        try:
            self._check(meta, trigger, case)
        except Forbidden as exc:
            log.warning(
                "feedback.forbidden",
                command=trigger,
                user=actor_id(meta),
                feedback_id=case.get("id"),
                reason=str(exc),
            )
            raise

    def _may(self, meta: Meta, trigger: str, case: Mapping[str, Any]) -> bool:
        """Whether ``meta``'s actor may run ``trigger`` on ``case`` (a filter: not logged)."""
        try:
            self._check(meta, trigger, case)
        except Forbidden:
            return False
        return True

    def _check(self, meta: Meta, trigger: str, case: Mapping[str, Any]) -> None:
        """The policy's decision, unlogged (none without a policy).

        Raises:
            Forbidden: If ``meta``'s actor may not run ``trigger`` on ``case``.
        """
        if self.policy is None:
            return
        if not isinstance(meta.actor, Actor):
            raise Forbidden(f"{trigger}: this desk requires an Actor for every command")
        self.policy.check(meta.actor, trigger, case, self._units(case.get("unit")))

    def _units(self, unit: str | None = None) -> Units:
        """The unit set in force today by the engine's timeline (feedback is received where
        the city is organised now), or, for an item received at a unit it no longer has, the
        unit set that has it."""
        timeline = self.engine.timeline
        current = timeline.catalog_at(local_date(self.engine.now())).units
        if unit is None or current.has_unit(unit):
            return current
        for catalog in timeline.catalogs:
            if catalog.units.has_unit(unit):
                return catalog.units
        return current

    def _run(
        self,
        trigger: str,
        feedback_id: int,
        args: _Args,
        options: Mapping[str, Any],
        plan: Plan,
        *,
        fires: bool = True,
        unrecorded: set[str] | None = None,
        also: Also | None = None,
    ) -> FeedbackItem:
        """Load and lock, authorize, fire, apply ``plan``, write the row and one event.

        Args:
            trigger: The command's trigger.
            feedback_id: The item.
            args: The command's validated arguments (recorded on the event).
            options: ``actor``, ``expected_version``, ``idempotency_key``.
            plan: The command's plan.
            fires: Whether the command is a transition of the feedback machine (a rating is
                a fact recorded on an answered item, not a transition).
            unrecorded: Arguments kept out of the event (and so out of the chain).
            also: Work done beside the row and the event, in the same unit of work.

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """
        meta = validated(Meta, **options)
        feedback_id = valid_id(feedback_id, "feedback_id")
        recorder = self.engine.recorder
        with recorder.write() as uow:
            conn = uow.conn
            row = feedback_rows.load_case(conn, feedback_id, lock=True)
            # Read once the item is locked, so its events' times never go backwards.
            now = self.engine.now()
            prior = uow.replay_or_claim(meta.idempotency_key, f"feedback.{trigger}", now)
            if prior is not None:
                return FeedbackItem.from_result(prior)
            if meta.expected_version is not None and row["version"] != meta.expected_version:
                raise StaleVersion(feedback_id, meta.expected_version, row["version"])
            self._authorize(meta, trigger, row)
            before = row["status"]
            status = FeedbackStatus(before)
            if fires:
                rules = self.engine.rules.named(row["rule_set"])
                facts = FeedbackFacts(before, row["extensions"], rules.max_apologies)
                status = self.lifecycle.fire(trigger, facts)
            changes, record = plan(row, now, args)
            if status.value != before:
                changes["status"] = status.value
            changes["updated_at"] = now
            after = {**row, **changes, "version": row["version"] + 1}
            event = feedback_rows.feedback_event(
                after, row["event_hash"], trigger, before, changes,
                {**args.model_dump(exclude=unrecorded), **record},
                actor=actor_id(meta), at=now, key=recorder.key(),
            )  # fmt: skip
            feedback_rows.update_case(
                conn, feedback_id, row["version"], {**changes, "event_hash": event["hash"]}
            )
            after["event_hash"] = event["hash"]
            feedback_rows.append(uow, event, after)
            if also is not None:
                also(uow, after, now)
            self._remember(uow, meta, after)
        log.debug("feedback.command", trigger=trigger, feedback_id=feedback_id, status=status)
        return FeedbackItem.from_row(after)

    @staticmethod
    def _remember(uow: UnitOfWork, meta: Meta, after: Mapping[str, Any]) -> None:
        """Keep an idempotent command's result under the item's event id space (minus its
        id), as verification replays it."""
        if meta.idempotency_key is not None:
            case_id = feedback_rows.event_case_id(after["id"])
            uow.finish_key(meta.idempotency_key, case_id, to_json({**after, "id": case_id}))
