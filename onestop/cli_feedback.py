"""Citizen feedback and satisfaction on the command line: ``onestop feedback ...`` (the
:class:`~onestop.feedback_commands.FeedbackDesk`'s commands and reads, each as a named user)
and ``onestop survey import`` (the city's own forms).

Every feedback command names its user (``--user``). Once the database holds a staff directory
(``onestop staff-directory load``), the user's agency and roles come from it at the command's
instant and :class:`~onestop.feedback_access.FeedbackPolicy` decides; a user it does not know is
an applicant account. Without a directory the user is only recorded on the event (the embedded
mode of :mod:`onestop.authority`). Refusals are typed errors ending in :mod:`onestop.cli_guard`
(one ``error:`` line, exit code 2) and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from onestop.cli_common import (
    DbOption,
    WorkflowsOption,
    default_workflows,
    err,
    fail,
    open_engine,
    parse_instant,
)
from onestop.defaults import DEFAULT_DB
from onestop.errors import OnestopError, ValidationError

if TYPE_CHECKING:
    from onestop.access import Actor
    from onestop.feedback_commands import FeedbackDesk, FeedbackItem

survey_app = typer.Typer(help="The city's own satisfaction survey forms.", no_args_is_help=True)


@survey_app.command("import")
def survey_import(
    file: Annotated[
        Path, typer.Argument(help="CSV: form_id,answered_on,unit,score,channel,comment")
    ],
    db: DbOption = DEFAULT_DB,
    workflows: WorkflowsOption = None,
) -> None:
    """Import survey forms; one bad row refuses the file (line numbers), nothing imported.

    Example:
      onestop survey import forms-2024.csv --db onestop-demo.db
    """
    from onestop.satisfaction import import_survey

    engine = open_engine(db, workflows)
    try:
        n = import_survey(engine, file)
    except OnestopError as exc:
        raise fail(str(exc)) from None
    err.print(f"imported {n} forms from {file}")


feedback_app = typer.Typer(
    help="Citizen feedback (phản ánh, kiến nghị): receive, classify (accept, forward, reject), "
    "assign, extend, answer, publish, rate, close; show one item, list those being handled.",
    no_args_is_help=True,
)

FeedbackId = Annotated[
    int, typer.Argument(help="The feedback item's id.", metavar="ID", show_default=False)
]
UserOption = Annotated[
    str,
    typer.Option(
        help="Who acts: a user id of the staff directory (their roles come from it when the "
        "database holds one).",
        show_default=False,
    ),
]
NowOption = Annotated[
    str | None, typer.Option(help="The command's time (ISO; default now, Asia/Ho_Chi_Minh).")
]
DevOption = Annotated[
    bool, typer.Option(help="Chain the events without an audit key (development only).")
]

#: The option a desk argument is given with, where its name differs.
_OPTIONS = {"to_agency": "--to", "assignee": "--to", "feedback_id": "ID", "actor": "--user"}
_ARGUMENTS = frozenset(
    {"channel", "subject", "unit", "agency", "topic", "procedure", "dossier", "reference",
     "reason", "note", "summary", "score", "comment"}
)  # fmt: skip


@contextmanager
def _desk(
    db: str, user: str, workflows: Path | None, now: str | None, dev: bool = False
) -> Iterator[tuple[FeedbackDesk, Actor | str]]:
    """The desk on ``db`` and the acting user (from the directory when the database has one);
    a refused argument is named by its option."""
    from onestop.arguments import Meta, validated
    from onestop.feedback import FeedbackLaw
    from onestop.feedback_access import FeedbackPolicy
    from onestop.feedback_commands import FeedbackDesk

    try:
        validated(Meta, actor=user)
    except ValidationError as exc:
        raise ValidationError("--user", exc.reason) from None
    engine = open_engine(db, workflows, now, dev=dev)
    try:
        law = FeedbackLaw.load(workflows or default_workflows())
        actor: Actor | str = user
        policy = None
        if engine.authority.directory:
            policy = FeedbackPolicy()
            with engine.store.read() as uow:
                found = engine.authority.actor(uow, user, engine.clock.now())
            assert found is not None  # directory mode always resolves a named user
            actor = found
        try:
            yield FeedbackDesk(engine, law, policy), actor
        except ValidationError as exc:
            if exc.field not in _ARGUMENTS and exc.field not in _OPTIONS:
                raise
            option = _OPTIONS.get(exc.field, f"--{exc.field}")
            raise ValidationError(option, exc.reason) from None
    finally:
        engine.store.dispose()


def _when(at: datetime | None) -> str:
    return "–" if at is None else f"{at:%Y-%m-%d %H:%M}"


def _line(item: FeedbackItem) -> str:
    """One line: id, status (and how it was judged), time limit, version."""
    judged = f" ({item.timeliness.replace('_', ' ')})" if item.timeliness else ""
    return (
        f"feedback {item.id}: {item.status.value}{judged}, due {_when(item.due_at)}, "
        f"version {item.version}"
    )


@feedback_app.command("receive")
def feedback_receive(
    user: UserOption,
    channel: Annotated[str, typer.Option(help="portal, hotline, counter or mail.")],
    subject: Annotated[str, typer.Option(help="procedure, regulation or officer_conduct.")],
    unit: Annotated[str, typer.Option(help="The receiving unit's code.")],
    agency: Annotated[
        str | None, typer.Option(help="The agency handling it (default: the unit's desk).")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="A field code (lĩnh vực).")] = None,
    procedure: Annotated[str | None, typer.Option(help="The procedure it is about.")] = None,
    dossier: Annotated[int | None, typer.Option(help="A linked dossier's id.")] = None,
    anonymous: Annotated[bool, typer.Option(help="The sender gave no name or address.")] = False,
    reference: Annotated[
        str | None, typer.Option(help="Your own unique reference (e.g. the portal's code).")
    ] = None,
    db: DbOption = DEFAULT_DB,
    workflows: WorkflowsOption = None,
    now: NowOption = None,
    dev: DevOption = False,
) -> None:
    """Receive a feedback item; its time limit to be classified starts.

    Example: onestop feedback receive --user nk.desk.01 --channel hotline --subject procedure
    --unit 92.NK
    """
    with _desk(db, user, workflows, now, dev) as (desk, actor):
        item = desk.receive(
            channel, subject, unit, agency=agency, topic=topic, procedure=procedure,
            dossier=dossier, anonymous=anonymous, reference=reference, actor=actor,
        )  # fmt: skip
    typer.echo(_line(item))


def _transition(trigger: str, doc: str) -> Callable[..., None]:
    """A command firing ``trigger`` with no argument but the item (accept, publish, close)."""

    def command(
        feedback_id: FeedbackId,
        user: UserOption,
        db: DbOption = DEFAULT_DB,
        workflows: WorkflowsOption = None,
        now: NowOption = None,
        dev: DevOption = False,
    ) -> None:
        with _desk(db, user, workflows, now, dev) as (desk, actor):
            typer.echo(_line(getattr(desk, trigger)(feedback_id, actor=actor)))

    command.__name__ = f"feedback_{trigger}"
    command.__doc__ = f"{doc}\n\n    Example: onestop feedback {trigger} 1 --user nk.desk.01\n    "
    return command


feedback_accept = feedback_app.command("accept")(
    _transition(
        "accept",
        "Classify as within the agency's competence: the handling limit applies from receipt.",
    )
)


@feedback_app.command("forward")
def feedback_forward(
    feedback_id: FeedbackId,
    user: UserOption,
    to: Annotated[str, typer.Option(help="The competent agency's code.", show_default=False)],
    reason: Annotated[str | None, typer.Option(help="Why it is forwarded.")] = None,
    db: DbOption = DEFAULT_DB,
    workflows: WorkflowsOption = None,
    now: NowOption = None,
    dev: DevOption = False,
) -> None:
    """Forward to the competent agency (judged against the classification limit).

    Example: onestop feedback forward 1 --user nk.desk.01 --to 92.LAND_REGISTRY
    """
    with _desk(db, user, workflows, now, dev) as (desk, actor):
        typer.echo(_line(desk.forward(feedback_id, to, reason=reason, actor=actor)))


@feedback_app.command("reject")
def feedback_reject(
    feedback_id: FeedbackId,
    user: UserOption,
    reason: Annotated[
        str, typer.Option(help="anonymous, duplicate or outside_scope.", show_default=False)
    ],
    note: Annotated[str | None, typer.Option(help="A note on the rejection.")] = None,
    db: DbOption = DEFAULT_DB,
    workflows: WorkflowsOption = None,
    now: NowOption = None,
    dev: DevOption = False,
) -> None:
    """Reject with a reason (judged against the classification limit).

    Example: onestop feedback reject 1 --user nk.desk.01 --reason duplicate
    """
    with _desk(db, user, workflows, now, dev) as (desk, actor):
        typer.echo(_line(desk.reject(feedback_id, reason, note=note, actor=actor)))


@feedback_app.command("assign")
def feedback_assign(
    feedback_id: FeedbackId,
    user: UserOption,
    to: Annotated[str, typer.Option(help="The officer's user id.", show_default=False)],
    db: DbOption = DEFAULT_DB,
    workflows: WorkflowsOption = None,
    now: NowOption = None,
    dev: DevOption = False,
) -> None:
    """Assign to an officer (again to reassign).

    Example: onestop feedback assign 1 --user nk.desk.01 --to nk.land.01
    """
    with _desk(db, user, workflows, now, dev) as (desk, actor):
        typer.echo(_line(desk.assign(feedback_id, to, actor=actor)))


@feedback_app.command("extend")
def feedback_extend(
    feedback_id: FeedbackId,
    user: UserOption,
    reason: Annotated[str, typer.Option(help="Why more time is needed.", show_default=False)],
    db: DbOption = DEFAULT_DB,
    workflows: WorkflowsOption = None,
    now: NowOption = None,
    dev: DevOption = False,
) -> None:
    """Extend the handling limit once, with a letter of apology; the item then counts as late.

    Example: onestop feedback extend 1 --user nk.leader.01 --reason "site visit needed"
    """
    with _desk(db, user, workflows, now, dev) as (desk, actor):
        typer.echo(_line(desk.extend(feedback_id, reason, actor=actor)))


@feedback_app.command("answer")
def feedback_answer(
    feedback_id: FeedbackId,
    user: UserOption,
    summary: Annotated[str | None, typer.Option(help="A summary of the answer.")] = None,
    db: DbOption = DEFAULT_DB,
    workflows: WorkflowsOption = None,
    now: NowOption = None,
    dev: DevOption = False,
) -> None:
    """Send the answer: judged early, on time or late against the limit in force.

    Example: onestop feedback answer 1 --user nk.desk.01 --summary "fee refunded"
    """
    with _desk(db, user, workflows, now, dev) as (desk, actor):
        typer.echo(_line(desk.answer(feedback_id, summary=summary, actor=actor)))


feedback_publish = feedback_app.command("publish")(
    _transition("publish", "Publish the answer (công khai kết quả xử lý).")
)


@feedback_app.command("rate")
def feedback_rate(
    feedback_id: FeedbackId,
    user: UserOption,
    score: Annotated[int, typer.Option(help="1 to 5.", show_default=False)],
    channel: Annotated[
        str,
        typer.Option(help="portal, zalo, sms, kiosk, counter or survey.", show_default=False),
    ],
    comment: Annotated[
        str | None, typer.Option(help="Kept in the satisfaction table only, never logged.")
    ] = None,
    db: DbOption = DEFAULT_DB,
    workflows: WorkflowsOption = None,
    now: NowOption = None,
    dev: DevOption = False,
) -> None:
    """Record the sender's satisfaction with the answer (1–5), once.

    Example: onestop feedback rate 1 --user nk.desk.01 --score 4 --channel zalo
    """
    with _desk(db, user, workflows, now, dev) as (desk, actor):
        typer.echo(_line(desk.rate(feedback_id, score, channel, comment=comment, actor=actor)))


feedback_close = feedback_app.command("close")(_transition("close", "Close an answered item."))

#: The fields ``show`` prints, with their labels.
_SHOWN = (
    ("status", "status"), ("channel", "channel"), ("subject", "subject"),
    ("topic", "topic"), ("procedure_code", "procedure"), ("linked_dossier", "dossier"),
    ("anonymous", "anonymous"), ("reference", "reference"), ("unit", "unit"),
    ("agency", "agency"), ("assignee", "assignee"), ("received_at", "received"),
    ("due_at", "due"), ("original_due_at", "original due"), ("extensions", "extensions"),
    ("outcome", "outcome"), ("reject_reason", "reject reason"), ("forwarded_to", "forwarded to"),
    ("resolved_at", "handled"), ("timeliness", "timeliness"), ("published_at", "published"),
    ("closed_at", "closed"), ("rating", "rating"), ("law", "time limits"),
    ("version", "version"),
)  # fmt: skip


def _value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@feedback_app.command("show")
def feedback_show(
    feedback_id: FeedbackId,
    user: UserOption,
    db: DbOption = DEFAULT_DB,
    workflows: WorkflowsOption = None,
    now: NowOption = None,
) -> None:
    """Print a feedback item's state and its events (a read, authorized like a command).

    Example: onestop feedback show 1 --user nk.desk.01
    """
    with _desk(db, user, workflows, now) as (desk, actor):
        item = desk.get(feedback_id, actor=actor)
        events = desk.history(feedback_id, actor=actor)
    values = asdict(item)
    lines = [f"feedback {item.id}"]
    lines += [f"  {label + ':':<15}{_value(values[name])}" for name, label in _SHOWN]
    lines.append("events:")
    lines += [
        f"  {_when(e.at)}  {e.trigger:<8} {e.from_status} → {e.to_status}  by {e.actor or '–'}"
        for e in events
    ]
    typer.echo("\n".join(lines))


@feedback_app.command("list")
def feedback_list(
    user: UserOption,
    overdue: Annotated[bool, typer.Option(help="Only those overdue now (or at --now).")] = False,
    due_by: Annotated[
        str | None, typer.Option(help="Only those falling due from now to this instant (ISO).")
    ] = None,
    db: DbOption = DEFAULT_DB,
    workflows: WorkflowsOption = None,
    now: NowOption = None,
) -> None:
    """List the feedback items being handled that the user may read, by time limit.

    Example: onestop feedback list --user nk.desk.01 --overdue
    """
    with _desk(db, user, workflows, now) as (desk, actor):
        at = desk.engine.clock.now()
        until = None if due_by is None else parse_instant(due_by, "--due-by")
        items = desk.open_items(
            overdue_at=at if overdue else None,
            due_soon=None if until is None else (at, until),
            actor=actor,
        )
    typer.echo(f"{len(items)} feedback item(s) being handled")
    for item in items:
        typer.echo(
            f"  {item.id:>6}  {item.status.value:<9} due {_when(item.due_at)}  {item.unit}  "
            f"{item.agency}  {item.subject}  {item.assignee or '–'}"
        )
