"""The feedback desk: citizen feedback handled on the same engine as dossiers.

Every command validates its arguments, checks who acts (:class:`~onestop.feedback_access.
FeedbackPolicy` when the desk has a policy), fires its trigger on the shared feedback machine,
computes the deadlines with the pure core (:mod:`onestop.feedback`, which calls
:mod:`onestop.deadlines` and :mod:`onestop.timeliness`), and writes the item's row and exactly
one event — in the same store, the same hash-chained log and the same transaction. Bad input
raises a typed error and changes nothing. Reads are authorized like commands.

Example:
    >>> from datetime import datetime
    >>> from onestop import Engine, ManualClock, VN_TZ
    >>> from onestop.feedback import FeedbackLaw
    >>> clock = ManualClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ))
    >>> engine = Engine.open("sqlite://", "tests/fixtures/workflows", clock=clock)
    >>> desk = FeedbackDesk(engine, FeedbackLaw.load("workflows"))
    >>> item = desk.receive(channel="portal", subject="procedure", unit="W1")
    >>> item.status.value, item.due_at.isoformat()
    ('received', '2025-03-10T09:00:00+07:00')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import structlog
from pydantic import Field

from onestop.access import Actor, Forbidden
from onestop.arguments import Meta, NoArgs, _Args, actor_id, validated
from onestop.clock import local_date
from onestop.engine import Engine
from onestop.errors import InvalidTransition, StaleVersion, ValidationError
from onestop.feedback import (
    FeedbackChannel,
    FeedbackFacts,
    FeedbackLaw,
    FeedbackLifecycle,
    FeedbackStatus,
    RatingChannel,
    RejectReason,
    Subject,
    classify,
    due,
    extension_notice_in_time,
    is_due_soon,
    is_overdue,
)
from onestop.feedback_access import FeedbackPolicy
from onestop.inputs import Code, Id, Reference, Text, UserId
from onestop.inputs import dossier_id as valid_id
from onestop.store import feedback_rows, to_json

log = structlog.get_logger("onestop.feedback")


class _Receipt(_Args):
    channel: FeedbackChannel
    subject: Subject
    unit: Code
    agency: Code | None = None
    topic: Code | None = None
    procedure: Code | None = None
    dossier: Id | None = None
    anonymous: bool = False
    reference: Reference | None = None


class _Forward(_Args):
    to_agency: Code
    reason: Text | None = None


class _Reject(_Args):
    reason: RejectReason
    note: Text | None = None


class _Assign(_Args):
    assignee: UserId


class _Extend(_Args):
    reason: Text


class _Answer(_Args):
    summary: Text | None = None


class _Rating(_Args):
    score: int = Field(ge=1, le=5, strict=True)
    channel: RatingChannel
    comment: Text | None = None


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    """A feedback item as stored (read-only view)."""

    id: int
    reference: str | None
    law: str
    channel: str
    subject: str
    topic: str | None
    procedure_code: str | None
    linked_dossier: int | None
    anonymous: bool
    level: str
    unit: str
    agency: str
    assignee: str | None
    status: FeedbackStatus
    received_at: datetime
    due_at: datetime | None
    original_due_at: datetime | None
    extensions: int
    outcome: str | None
    reject_reason: str | None
    forwarded_to: str | None
    resolved_at: datetime | None
    timeliness: str | None
    published_at: datetime | None
    closed_at: datetime | None
    rating: int | None
    version: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> FeedbackItem:
        """Build from a ``feedback_cases`` row."""
        values = {f.name: row[f.name] for f in fields(cls)}
        values["status"] = FeedbackStatus(values["status"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """One state change of a feedback item (an ``events`` row of the shared log)."""

    seq: int
    at: datetime
    trigger: str
    from_status: str
    to_status: str
    agency: str | None
    actor: str | None
    data: dict[str, Any]
    hash: str


class FeedbackDesk:
    """Commands and queries on citizen feedback, over an :class:`~onestop.engine.Engine`'s
    store, calendar, clock, units and rule sets.

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

    # -- the pipeline ----------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.engine.now()

    def _authorize(self, meta: Meta, trigger: str, case: Mapping[str, Any]) -> None:
        if self.policy is None:
            return
        try:
            if not isinstance(meta.actor, Actor):
                raise Forbidden(f"{trigger}: this desk requires an Actor for every command")
            self.policy.check(meta.actor, trigger, case, self.engine.units)
        except Forbidden as exc:
            log.warning(
                "feedback.forbidden",
                command=trigger,
                user=actor_id(meta),
                feedback_id=case.get("id"),
                reason=str(exc),
            )
            raise

    def receive(
        self,
        channel: str,
        subject: str,
        unit: str,
        *,
        agency: str | None = None,
        topic: str | None = None,
        procedure: str | None = None,
        dossier: int | None = None,
        anonymous: bool = False,
        reference: str | None = None,
        **options: Any,
    ) -> FeedbackItem:
        """Receive a feedback item; its time limit to be classified starts.

        Args:
            channel: ``portal``, ``hotline``, ``counter`` or ``mail``.
            subject: ``procedure``, ``regulation`` or ``officer_conduct``.
            unit: The receiving unit.
            agency: The agency handling it (default: the unit's desk).
            topic: A field code (lĩnh vực) of the definitions.
            procedure: The procedure it is about.
            dossier: A linked dossier's id.
            anonymous: Whether the sender gave no name or address.
            reference: The caller's own unique reference (e.g. the portal's code).
            **options: ``actor``, ``idempotency_key``.

        Raises:
            ValidationError, UnknownUnit, UnknownProcedure, UnknownDossier, Forbidden.
        """
        meta = validated(Meta, **options)
        args = validated(
            _Receipt, channel=channel, subject=subject, unit=unit, agency=agency, topic=topic,
            procedure=procedure, dossier=dossier, anonymous=anonymous, reference=reference,
        )  # fmt: skip
        now = self._now()
        units = self.engine.units
        place = units.unit(args.unit)
        agency = args.agency or _desk_of(self.engine, place.code)
        units.agency(agency)
        if args.procedure is not None:
            self.engine.catalog.get(args.procedure, at=local_date(now))
        if args.topic is not None and args.topic not in self.engine.catalog.fields:
            raise ValidationError("topic", f"unknown field {args.topic!r}")
        if args.dossier is not None:
            self.engine.get(args.dossier)
        version = self.law.in_force(local_date(now))
        rules = self.engine.rules.in_force(local_date(now))
        deadline = due(self.engine.calendar, rules, now, version.limits.classify.days)
        row: dict[str, Any] = {
            "reference": args.reference, "law": version.name, "rule_set": rules.name,
            "channel": args.channel, "subject": args.subject, "topic": args.topic,
            "procedure_code": args.procedure, "linked_dossier": args.dossier,
            "anonymous": args.anonymous, "level": place.level, "unit": place.code,
            "agency": agency, "assignee": None, "status": FeedbackStatus.RECEIVED.value,
            "received_at": now, "received_on": local_date(now), "due_at": deadline,
            "original_due_at": deadline, "extensions": 0, "outcome": None,
            "reject_reason": None, "forwarded_to": None, "resolved_at": None,
            "resolved_on": None, "timeliness": None, "published_at": None, "closed_at": None,
            "rating": None, "rated_at": None, "rating_channel": None, "created_at": now,
            "updated_at": now,
        }  # fmt: skip
        self._authorize(meta, "receive", row)
        self.lifecycle.fire("receive", FeedbackFacts(FeedbackStatus.NEW.value))
        recorder = self.engine.recorder
        with recorder.write() as uow:
            conn = uow.conn
            prior = uow.replay_or_claim(meta.idempotency_key, "feedback.receive", now)
            if prior is not None:
                return _from_result(prior)
            if args.reference is not None and feedback_rows.reference_taken(conn, args.reference):
                raise ValidationError("reference", f"{args.reference!r} is already used")
            row["id"] = feedback_rows.insert_case(conn, row)
            row["version"] = 1
            changes = {k: v for k, v in row.items() if k not in ("id", "version")}
            event = feedback_rows.feedback_event(
                row, None, "receive", FeedbackStatus.NEW.value, changes, {},
                actor=actor_id(meta), at=now, key=recorder.key(),
            )  # fmt: skip
            feedback_rows.set_head(conn, row["id"], event["hash"])
            row["event_hash"] = event["hash"]
            feedback_rows.append(uow, event, row)
            _remember(uow, meta, row)
        log.debug("feedback.command", trigger="receive", feedback_id=row["id"], unit=place.code)
        return FeedbackItem.from_row(row)

    def _run(
        self,
        trigger: str,
        feedback_id: int,
        args: _Args,
        options: Mapping[str, Any],
        plan: Any,
    ) -> FeedbackItem:
        """Load and lock, authorize, fire, apply ``plan(row, now, args)`` → (changes, record),
        write the row and one event."""
        meta = validated(Meta, **options)
        feedback_id = valid_id(feedback_id, "feedback_id")
        recorder = self.engine.recorder
        with recorder.write() as uow:
            conn = uow.conn
            row = feedback_rows.load_case(conn, feedback_id, lock=True)
            # Read once the item is locked, so its events' times never go backwards.
            now = self._now()
            prior = uow.replay_or_claim(meta.idempotency_key, f"feedback.{trigger}", now)
            if prior is not None:
                return _from_result(prior)
            if meta.expected_version is not None and row["version"] != meta.expected_version:
                raise StaleVersion(feedback_id, meta.expected_version, row["version"])
            self._authorize(meta, trigger, row)
            rules = self.engine.rules.named(row["rule_set"])
            before = row["status"]
            facts = FeedbackFacts(before, row["extensions"], rules.max_apologies)
            # A rating is a fact recorded on an answered item, not a transition.
            status = (
                FeedbackStatus(before) if trigger == "rate" else self.lifecycle.fire(trigger, facts)
            )
            changes, record = plan(row, now, args)
            if status.value != before:
                changes["status"] = status.value
            changes["updated_at"] = now
            after = {**row, **changes, "version": row["version"] + 1}
            event = feedback_rows.feedback_event(
                after, row["event_hash"], trigger, before, changes,
                {**args.model_dump(exclude={"comment"}), **record},
                actor=actor_id(meta), at=now, key=recorder.key(),
            )  # fmt: skip
            feedback_rows.update_case(
                conn, feedback_id, row["version"], {**changes, "event_hash": event["hash"]}
            )
            after["event_hash"] = event["hash"]
            feedback_rows.append(uow, event, after)
            if trigger == "rate":
                feedback_rows.insert_rating(conn, _rating_row(after, args, now))
            _remember(uow, meta, after)
        log.debug("feedback.command", trigger=trigger, feedback_id=feedback_id, status=status)
        return FeedbackItem.from_row(after)

    def _handle_due(self, row: Mapping[str, Any]) -> datetime:
        version = self.law.named(row["law"])
        rules = self.engine.rules.named(row["rule_set"])
        return due(self.engine.calendar, rules, row["received_at"], version.limits.handle.days)

    def _finish(self, row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        judged = classify(now, row["due_at"], row["extensions"] > 0)
        return {"resolved_at": now, "resolved_on": local_date(now), "timeliness": judged.value}

    # -- commands --------------------------------------------------------------------------

    def accept(self, feedback_id: int, **options: Any) -> FeedbackItem:
        """Classify as within the agency's competence: the handling time limit now applies
        (counted from receipt).

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """

        def plan(row: Mapping[str, Any], now: datetime, args: _Args) -> Any:
            deadline = self._handle_due(row)
            return {"outcome": "within_competence", "due_at": deadline,
                    "original_due_at": deadline}, {}  # fmt: skip

        return self._run("accept", feedback_id, NoArgs(), options, plan)

    def forward(
        self, feedback_id: int, to_agency: str, *, reason: str | None = None, **options: Any
    ) -> FeedbackItem:
        """Forward to the competent agency (judged against the classification limit).

        Raises:
            UnknownFeedback, UnknownUnit, InvalidTransition, StaleVersion, Forbidden,
            ValidationError.
        """
        args = validated(_Forward, to_agency=to_agency, reason=reason)
        self.engine.units.agency(args.to_agency)

        def plan(row: Mapping[str, Any], now: datetime, a: _Args) -> Any:
            return {"outcome": "forwarded", "forwarded_to": args.to_agency,
                    **self._finish(row, now)}, {}  # fmt: skip

        return self._run("forward", feedback_id, args, options, plan)

    def reject(
        self, feedback_id: int, reason: str, *, note: str | None = None, **options: Any
    ) -> FeedbackItem:
        """Reject with a reason: ``anonymous``, ``duplicate`` or ``outside_scope``.

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """
        args = validated(_Reject, reason=reason, note=note)

        def plan(row: Mapping[str, Any], now: datetime, a: _Args) -> Any:
            return {"outcome": "rejected", "reject_reason": args.reason,
                    **self._finish(row, now)}, {}  # fmt: skip

        return self._run("reject", feedback_id, args, options, plan)

    def assign(self, feedback_id: int, assignee: str, **options: Any) -> FeedbackItem:
        """Assign to an officer (again to reassign).

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """
        args = validated(_Assign, assignee=assignee)
        return self._run(
            "assign", feedback_id, args, options, lambda r, n, a: ({"assignee": a.assignee}, {})
        )

    def extend(self, feedback_id: int, reason: str, **options: Any) -> FeedbackItem:
        """Extend the handling limit once by the law's extension, with a letter of apology to
        the sender; the item then counts as late, as a dossier after an apology letter.

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """
        args = validated(_Extend, reason=reason)

        def plan(row: Mapping[str, Any], now: datetime, a: _Args) -> Any:
            rules = self.engine.rules.named(row["rule_set"])
            days = self.law.named(row["law"]).limits.extension.days
            cal = self.engine.calendar
            new_due = due(cal, rules, row["due_at"], days)
            notice = extension_notice_in_time(cal, rules, now, row["due_at"])
            return {"due_at": new_due, "extensions": row["extensions"] + 1}, {
                "notice_in_time": notice
            }

        return self._run("extend", feedback_id, args, options, plan)

    def answer(
        self, feedback_id: int, *, summary: str | None = None, **options: Any
    ) -> FeedbackItem:
        """Send the answer: judged early, on time or late against the limit in force.

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """
        args = validated(_Answer, summary=summary)
        return self._run(
            "answer", feedback_id, args, options, lambda r, n, a: (self._finish(r, n), {})
        )

    def publish(self, feedback_id: int, **options: Any) -> FeedbackItem:
        """Publish the answer (công khai kết quả xử lý).

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden.
        """
        return self._run(
            "publish", feedback_id, NoArgs(), options, lambda r, n, a: ({"published_at": n}, {})
        )

    def close(self, feedback_id: int, **options: Any) -> FeedbackItem:
        """Close an answered item.

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden.
        """
        return self._run(
            "close", feedback_id, NoArgs(), options, lambda r, n, a: ({"closed_at": n}, {})
        )

    def rate(
        self,
        feedback_id: int,
        score: int,
        channel: str,
        *,
        comment: str | None = None,
        **options: Any,
    ) -> FeedbackItem:
        """Record the sender's satisfaction with the answer (1–5), once, with the channel and
        the time; a comment is kept in the satisfaction table only (not in the event chain, not
        in logs).

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """
        args = validated(_Rating, score=score, channel=channel, comment=comment)
        return self._run("rate", feedback_id, args, options, _rate_plan)

    # -- queries ---------------------------------------------------------------------------

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
        names = {f.name for f in fields(FeedbackEvent)}
        return [FeedbackEvent(**{k: v for k, v in r.items() if k in names}) for r in rows]

    def open_items(
        self,
        *,
        overdue_at: datetime | None = None,
        due_soon: tuple[datetime, datetime] | None = None,
    ) -> list[FeedbackItem]:
        """Items being handled, by time limit; only those overdue at ``overdue_at``, or falling
        due between the two instants of ``due_soon`` (the core's predicates).
        """
        with self.engine.store.read() as uow:
            rows = feedback_rows.open_cases(uow.conn)
        if overdue_at is not None:
            rows = [r for r in rows if is_overdue(r["status"], r["due_at"], overdue_at)]
        if due_soon is not None:
            rows = [r for r in rows if is_due_soon(r["status"], r["due_at"], *due_soon)]
        return [FeedbackItem.from_row(r) for r in rows]


def _remember(uow: Any, meta: Meta, after: Mapping[str, Any]) -> None:
    """Keep an idempotent command's result under the item's event id space (minus its id), as
    verification replays it."""
    if meta.idempotency_key is not None:
        case_id = feedback_rows.event_case_id(after["id"])
        uow.finish_key(meta.idempotency_key, case_id, to_json({**after, "id": case_id}))


def _from_result(row: Mapping[str, Any]) -> FeedbackItem:
    """The item an idempotent command returned (its stored result, decoded)."""
    return FeedbackItem.from_row({**row, "id": -row["id"]})


def _rate_plan(row: Mapping[str, Any], now: datetime, args: Any) -> Any:
    if row["status"] not in ("answered", "published", "closed"):
        raise InvalidTransition(
            "rate", row["status"], "only an answered feedback item can be rated"
        )
    if row["rating"] is not None:
        raise InvalidTransition("rate", row["status"], "the answer has already been rated")
    return {"rating": args.score, "rated_at": now, "rating_channel": args.channel}, {}


def _rating_row(after: Mapping[str, Any], args: Any, now: datetime) -> dict[str, Any]:
    return {
        "kind": "feedback", "case_id": after["id"], "form_id": None, "unit": after["unit"],
        "level": after["level"], "score": args.score, "channel": args.channel,
        "answered_at": now, "answered_on": local_date(now), "comment": args.comment,
    }  # fmt: skip


def _desk_of(engine: Engine, unit: str) -> str:
    agency = engine.units.agency_for("desk", unit)
    if agency is None:
        raise ValidationError("agency", f"{unit} has no desk: name the agency that handles it")
    return agency.code
