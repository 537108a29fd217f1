"""Intake of citizen feedback: an item is received at a unit, and the time limit to classify it
(within the agency's competence, to forward, or to reject) starts.
"""

from __future__ import annotations

from typing import Any

from onestop.arguments import Meta, _Args, actor_id, validated
from onestop.clock import local_date
from onestop.errors import ValidationError
from onestop.feedback import FeedbackChannel, FeedbackFacts, FeedbackStatus, Subject, due
from onestop.feedback_item import FeedbackItem
from onestop.feedback_pipeline import FeedbackPipeline, log
from onestop.inputs import Code, Id, Reference
from onestop.store import feedback_rows
from onestop.units import Units


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


class FeedbackIntake(FeedbackPipeline):
    """Receiving feedback (see :class:`~onestop.feedback_pipeline.FeedbackPipeline`)."""

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
        now = self.engine.now()
        day = local_date(now)
        # Received where the city is organised on the day (the timeline's catalog), as dossiers.
        catalog = self.engine.timeline.receiving(day, args.unit)
        units = catalog.units
        place = units.unit(args.unit)
        agency = args.agency or _desk_of(units, place.code)
        units.agency(agency)
        if args.procedure is not None:
            catalog.get(args.procedure, at=day)
        if args.topic is not None and args.topic not in catalog.fields:
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
                return FeedbackItem.from_result(prior)
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
            self._remember(uow, meta, row)
        log.debug("feedback.command", trigger="receive", feedback_id=row["id"], unit=place.code)
        return FeedbackItem.from_row(row)


def _desk_of(units: Units, unit: str) -> str:
    agency = units.agency_for("desk", unit)
    if agency is None:
        raise ValidationError("agency", f"{unit} has no desk: name the agency that handles it")
    return agency.code
