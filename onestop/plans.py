"""What each command does to a dossier: the command table and its plans.

A *plan* is a pure function of the dossier row, the time, the procedure version, its rule set
and the calendar: it returns the columns to set, the step rows to add or change, and the legal
decisions to record on the event. It never touches the database; the engine checks the
trigger, runs the plan and writes the result with one event. Every due time comes from
:mod:`onestop.deadlines`, every classification from :mod:`onestop.timeliness`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from onestop import deadlines
from onestop.arguments import (
    Apology,
    Correction,
    Dispatch,
    Intake,
    NoArgs,
    OptionalReason,
    Paid,
    Payment,
    Rating,
    Reason,
    Resolution,
    SupplementRequest,
)
from onestop.calendar import Calendar
from onestop.catalog import Catalog, Procedure
from onestop.clock import local_date
from onestop.errors import CalendarRangeError, ValidationError
from onestop.intake import intake_mode
from onestop.lifecycle import Facts, check_rating
from onestop.rules import RuleSet
from onestop.status import Status
from onestop.timeliness import classify_resolution


@dataclass(frozen=True, slots=True)
class Context:
    """What a plan sees.

    Attributes:
        row: The dossier row before the command.
        now: The command's time.
        status: The status after the trigger fired.
        proc: The dossier's procedure version.
        rules: The dossier's rule set.
        calendar: The working calendar.
        catalog: The catalog (to find the agency of a step).
    """

    row: Mapping[str, Any]
    now: datetime
    status: Status
    proc: Procedure
    rules: RuleSet
    calendar: Calendar
    catalog: Catalog


@dataclass(slots=True)
class Plan:
    """A command's effect.

    Attributes:
        set: Dossier columns to set.
        new_steps: Step rows to insert (without ``dossier_id``).
        step_updates: ``(seq, columns)`` of step rows to update.
        record: Legal decisions recorded on the event beside the arguments.
    """

    set: dict[str, Any] = field(default_factory=dict)
    new_steps: list[dict[str, Any]] = field(default_factory=list)
    step_updates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Command:
    """One row of the command table.

    Attributes:
        trigger: The lifecycle trigger it fires (``None``: a fact recorded without a
            transition, checked by the plan).
        arguments: Its argument model.
        plan: What it does.
    """

    trigger: str | None
    arguments: type[BaseModel]
    plan: Callable[[Context, Any], Plan]


# -- steps --------------------------------------------------------------------------------------


def _start_step(plan: Plan, c: Context, k: int, start: datetime, due_at: datetime) -> None:
    step = c.proc.route.steps[k]
    agency = c.catalog.step_agency(c.proc, step, c.row["competent_unit"]).code
    due = deadlines.step_due(c.calendar, c.proc, step, start, due_at)
    plan.new_steps.append(
        {
            "seq": k,
            "step_code": step.code,
            "agency": agency,
            "started_at": start,
            "due_at": due,
            "completed_at": None,
            "timeliness": None,
        }
    )
    plan.set.update(step_index=k, current_agency=agency, step_due_at=due)


def _finish_step(plan: Plan, c: Context) -> None:
    judged = classify_resolution(c.now, c.row["step_due_at"], False)
    plan.step_updates.append(
        (c.row["step_index"], {"completed_at": c.now, "timeliness": judged.value})
    )


# -- plans --------------------------------------------------------------------------------------


def receipt(c: Context, _args: BaseModel) -> Plan:
    """Receipt (Form 01): the appointment date and the first step."""
    plan = Plan()
    due = deadlines.appointment(c.calendar, c.rules, c.proc, c.now)
    start = deadlines.clock_start(c.calendar, c.rules, c.proc, c.now)
    plan.set.update(
        received_at=c.now, received_on=local_date(c.now), due_at=due, original_due_at=due
    )
    _start_step(plan, c, 0, start, due)
    return plan


def close(c: Context, _args: BaseModel) -> Plan:
    """Refusal or withdrawal: the dossier ends without a result."""
    return Plan({"closed_at": c.now, "step_due_at": None})


def complete_step(c: Context, _args: BaseModel) -> Plan:
    """Hand-over to the next step's agency (a line of Form 05)."""
    plan = Plan()
    _finish_step(plan, c)
    current = c.proc.route.steps[c.row["step_index"]]
    start = deadlines.handover_start(c.calendar, c.rules, current, c.now)
    _start_step(plan, c, c.row["step_index"] + 1, start, c.row["due_at"])
    return plan


def pause(c: Context, args: BaseModel) -> Plan:
    """A supplement or payment request, or a suspension: whether the clock stops is the
    deadline law's call (:func:`onestop.deadlines.pause_effect`).

    Raises:
        ValidationError: A supplement request beyond the rule set's limit without an
            ``extra_reason``.
    """
    trigger = {
        Status.SUPPLEMENT_REQUESTED: "request_supplement",
        Status.PAYMENT_REQUESTED: "request_payment",
    }.get(c.status, "suspend")
    asked = c.row["supplements_requested"]
    effect = deadlines.pause_effect(trigger, c.rules, asked)
    plan = Plan({"paused_from": c.row["status"], "paused_at": c.now if effect == "stop" else None})
    plan.record["clock"] = "stopped" if effect == "stop" else "running"
    if trigger == "request_supplement":
        if asked >= c.rules.max_supplement_requests and not getattr(args, "extra_reason", None):
            raise ValidationError(
                "extra_reason",
                f"the dossier already had {asked} supplement request(s), the limit of its rules; "
                "a further one needs a recorded reason (and does not stop the clock)",
            )
        plan.set["supplements_requested"] = asked + 1
        restarts = deadlines.supplement_restarts(
            c.calendar, c.proc, c.row["received_at"], plan.set["paused_at"], c.row["due_at"]
        )
        plan.record["on_supplement"] = "restart" if restarts else "shift"
    return plan


def resume(c: Context, _args: BaseModel) -> Plan:
    """Processing resumes after a supplement, payment or suspension.

    The due times move by the working time the clock stood still; a supplement to a lawful
    ``restart`` request gives the full statutory time again from now (the first appointment
    stays on record in ``original_due_at``).
    """
    row, now = c.row, c.now
    plan = Plan({"paused_from": None, "paused_at": None})
    stopped = row["paused_at"]
    step = c.proc.route.steps[row["step_index"]]
    answering_supplement = row["status"] == Status.SUPPLEMENT_REQUESTED.value
    if answering_supplement and deadlines.supplement_restarts(
        c.calendar, c.proc, row["received_at"], stopped, row["due_at"]
    ):
        due = deadlines.appointment(c.calendar, c.rules, c.proc, now)
        step_due = deadlines.step_due(c.calendar, c.proc, step, now, due)
        plan.set.update(due_at=due, step_due_at=step_due)
        plan.record["clock"] = "restarted"
    elif stopped is not None:
        due = deadlines.shifted(c.calendar, row["due_at"], stopped, now)
        step_due = deadlines.shifted(c.calendar, row["step_due_at"], stopped, now)
        plan.set.update(due_at=due, step_due_at=step_due)
        plan.record["clock"] = "shifted"
    if "step_due_at" in plan.set:
        plan.step_updates.append((row["step_index"], {"due_at": plan.set["step_due_at"]}))
    return plan


def pay(c: Context, args: Any) -> Plan:
    """The applicant paid (online or not); processing resumes."""
    plan = resume(c, args)
    plan.set["fee_paid_online"] = args.online
    return plan


def resolve(c: Context, args: Any) -> Plan:
    """The result is ready: the last step ends and timeliness is judged now."""
    plan = Plan()
    _finish_step(plan, c)
    judged = classify_resolution(c.now, c.row["due_at"], c.row["apologies"] > 0)
    plan.set.update(
        resolved_at=c.now,
        resolved_on=local_date(c.now),
        outcome=args.outcome,
        timeliness=judged.value,
        result_electronic=args.electronic,
        result_digitised=args.digitised,
        step_due_at=None,
    )
    return plan


def apologise(c: Context, args: Any) -> Plan:
    """An apology letter (Form 04) with a new appointment date; records whether the letter met
    the day-granular notice rule.

    Raises:
        ValidationError: If the new date is in the past, not after the current one, or outside
            the calendar.
    """
    new: datetime = args.new_due
    if new <= c.now:
        raise ValidationError("new_due", f"{new.isoformat()} is in the past")
    if new <= c.row["due_at"]:
        raise ValidationError(
            "new_due", f"must be after the current appointment {c.row['due_at'].isoformat()}"
        )
    try:
        c.calendar.position(new)  # the new appointment must be a moment the calendar covers
    except CalendarRangeError as exc:
        raise ValidationError("new_due", str(exc)) from None
    in_time = deadlines.apology_in_time(c.calendar, c.rules, c.now, c.row["due_at"])
    plan = Plan({"due_at": new, "apologies": c.row["apologies"] + 1})
    plan.record["notice_in_time"] = in_time
    return plan


def dispatch(c: Context, _args: BaseModel) -> Plan:
    """The result goes to the postal service."""
    return Plan({"dispatched_at": c.now})


def return_result(c: Context, _args: BaseModel) -> Plan:
    """The applicant has the result."""
    return Plan({"returned_at": c.now, "closed_at": c.now})


def rate(c: Context, args: Any) -> Plan:
    """The applicant's rating: a fact on a returned dossier, recorded once.

    Raises:
        InvalidTransition: If the dossier is not returned or already rated.
    """
    check_rating(c.row["status"], c.row["rating"] is not None)
    return Plan({"rating": args.score})


def correct_personal_data(c: Context, args: Any) -> Plan:
    """A correction of the applicant's data (Decree 13/2023): the vault row changes; the event
    records which fields, never their values."""
    given = sorted(k for k, v in args.model_dump().items() if v is not None)
    return Plan(record={"fields": given})


def erase_personal_data(c: Context, args: Any) -> Plan:
    """An erasure of the applicant's data (Decree 13/2023): the vault row goes; the event
    records that it went."""
    return Plan(record={"personal_data": "erased"})


#: Commands on an existing dossier, by name.
COMMANDS: dict[str, Command] = {
    "receive_submitted": Command("receive", NoArgs, receipt),
    "refuse": Command("refuse", Reason, close),
    "complete_step": Command("complete_step", OptionalReason, complete_step),
    "request_supplement": Command("request_supplement", SupplementRequest, pause),
    "supplement": Command("supplement", NoArgs, resume),
    "request_payment": Command("request_payment", Payment, pause),
    "pay": Command("pay", Paid, pay),
    "suspend": Command("suspend", Reason, pause),
    "resume": Command("resume", NoArgs, resume),
    "withdraw": Command("withdraw", OptionalReason, close),
    "resolve": Command("resolve", Resolution, resolve),
    "apologise": Command("apologise", Apology, apologise),
    "dispatch_post": Command("dispatch_post", Dispatch, dispatch),
    "return_result": Command("return_result", NoArgs, return_result),
    "rate": Command(None, Rating, rate),
    "correct_personal_data": Command(None, Correction, correct_personal_data),
    "erase_personal_data": Command(None, NoArgs, erase_personal_data),
}


# -- new dossiers -------------------------------------------------------------------------------


def intake_values(
    args: Intake, trigger: str, proc: Procedure, catalog: Catalog, rules: RuleSet, now: datetime
) -> dict[str, Any]:
    """The columns of a new dossier before its first transition (intake law applied).

    Raises:
        UnknownUnit, NotAllowedHere, ValidationError: From :func:`onestop.intake.intake_mode`,
            or an online submission whose channel is not ``online``.
    """
    competent = args.competent_unit
    intake = args.intake_unit or competent
    mode = intake_mode(proc, catalog.units, competent, intake, args.channel, args.return_method)
    if trigger == "submit_online" and args.channel != "online":
        raise ValidationError("channel", "an online submission has channel 'online'")
    return {
        "reference": args.reference,
        "unit_set": catalog.units.name,
        "rule_set": rules.name,
        "procedure_code": proc.code,
        "procedure_version": proc.version,
        "field": proc.field,
        "level": proc.level,
        "competent_unit": competent,
        "intake_unit": intake,
        "intake_mode": mode,
        "channel": args.channel,
        "return_method": args.return_method,
        "digitised_intake": args.digitised,
        "reused_data": args.reused_data,
        "step_index": 0,
        "step_count": len(proc.route.steps),
        "current_agency": None,
        "apologies": 0,
        "supplements_requested": 0,
        "created_at": now,
        "updated_at": now,
    }


def admission(c: Context) -> Plan:
    """The first transition's effect: submission time, refusal, or receipt."""
    if c.status is Status.SUBMITTED:
        return Plan({"submitted_at": c.now})
    if c.status is Status.REFUSED:
        return Plan({"closed_at": c.now})
    return receipt(c, NoArgs())


# -- one command, whole -------------------------------------------------------------------------


def first(
    row: dict[str, Any],
    trigger: str,
    now: datetime,
    proc: Procedure,
    rules: RuleSet,
    calendar: Calendar,
    catalog: Catalog,
) -> Plan:
    """A new dossier's first transition: ``row`` (every column, the :func:`intake_values` set)
    gets its status and its admission's columns; the plan is returned for the event.

    Raises:
        InvalidTransition: If ``trigger`` cannot open a dossier.
    """
    status = catalog.lifecycle(proc).fire(trigger, Facts(Status.NEW.value, steps=row["step_count"]))
    row["status"], row["status_code"] = status.value, status.portal_code
    plan = admission(Context(row, now, status, proc, rules, calendar, catalog))
    row.update(plan.set)
    return plan


def decide(
    spec: Command,
    row: Mapping[str, Any],
    args: Any,
    now: datetime,
    proc: Procedure,
    rules: RuleSet,
    calendar: Calendar,
    catalog: Catalog,
) -> Plan:
    """What the command ``spec`` does to the dossier ``row`` at ``now``: its trigger fired
    through the procedure's lifecycle, its plan run; ``set`` includes the new status (when it
    changes) and ``updated_at``. The one decision the engine and the simulator's kernel share.

    Raises:
        InvalidTransition: If the lifecycle or the plan refuses the command.
        ValidationError: If the plan refuses an argument.
    """
    before = row["status"]
    status = Status(before)
    if spec.trigger is not None:
        facts = Facts(
            before, row["step_index"], row["step_count"], row["paused_from"],
            row["return_method"] == "post", row["apologies"], rules.max_apologies,
        )  # fmt: skip
        status = catalog.lifecycle(proc).fire(spec.trigger, facts)
    plan = spec.plan(Context(row, now, status, proc, rules, calendar, catalog), args)
    if status.value != before:
        plan.set.update(status=status.value, status_code=status.portal_code)
    plan.set["updated_at"] = now
    return plan
