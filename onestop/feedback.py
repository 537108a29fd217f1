"""Citizen feedback (phản ánh, kiến nghị — PAKN): its lifecycle and its time limits.

A feedback item is a second kind of case on the engine: it is received (portal, hotline,
counter, mail), classified — within the receiving agency's competence, forwarded to the
competent agency, or rejected with a reason — assigned, answered, published and closed. Like a
dossier's, its lifecycle is one shared :class:`~onestop._machine.SharedMachine`, checked when it
is built (every status reachable, every status reaching a final one, nothing leaving a final
one), and its deadlines come from the same pure core: :func:`onestop.deadlines.appointment`
counts the working days, :func:`onestop.deadlines.apology_in_time` judges an extension's notice,
and :mod:`onestop.timeliness` classifies the answer and says when an open item is overdue.

The time limits are a rule set versioned by the day of receipt (``workflows/feedback.yaml``,
:class:`FeedbackLaw`): Decree 20/2008/NĐ-CP, then as amended by Decree 92/2017/NĐ-CP. A limit
the sources we read do not give is marked ``assumed`` there.

Example:
    >>> life = FeedbackLifecycle()
    >>> life.fire("accept", FeedbackFacts("received")).value
    'accepted'
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from onestop import deadlines, timeliness
from onestop._machine import Guard, NotAllowed, SharedMachine, Transition
from onestop._yaml import load_yaml, validate_model
from onestop.calendar import Calendar
from onestop.catalog import Procedure
from onestop.errors import DefinitionError, InvalidTransition, Problem
from onestop.rules import RuleSet
from onestop.status import Status
from onestop.timeliness import Timeliness

#: How a feedback item reaches the agency.
FeedbackChannel = Literal["portal", "hotline", "counter", "mail"]
#: What it is about.
Subject = Literal["procedure", "regulation", "officer_conduct"]
#: Why it is not handled (Decree 20/2008 Art. 7's conditions, as amended).
RejectReason = Literal["anonymous", "duplicate", "outside_scope"]
#: How it was classified.
Outcome = Literal["within_competence", "forwarded", "rejected"]
#: Where a satisfaction answer came from.
RatingChannel = Literal["portal", "zalo", "sms", "kiosk", "counter", "survey"]


class FeedbackStatus(StrEnum):
    """The statuses of a feedback item."""

    NEW = "new"  # before the first command; never stored
    RECEIVED = "received"  # tiếp nhận, to be classified
    ACCEPTED = "accepted"  # within the agency's competence, to be assigned
    ASSIGNED = "assigned"  # an officer or unit handles it
    ANSWERED = "answered"  # đã xử lý: the answer is sent
    PUBLISHED = "published"  # the answer is public (công khai)
    CLOSED = "closed"
    FORWARDED = "forwarded"  # chuyển cơ quan có thẩm quyền
    REJECTED = "rejected"  # không tiếp nhận xử lý, with a reason


#: Being handled: its deadline runs.
OPEN = frozenset({FeedbackStatus.RECEIVED, FeedbackStatus.ACCEPTED, FeedbackStatus.ASSIGNED})
#: Never left.
FINAL = frozenset({FeedbackStatus.CLOSED, FeedbackStatus.FORWARDED, FeedbackStatus.REJECTED})


class FeedbackFacts:
    """The throw-away model the machine fires on.

    Attributes:
        state: The item's status.
        extensions: Extensions (apology letters) issued so far.
        max_extensions: How many the rules allow.
    """

    __slots__ = ("extensions", "max_extensions", "state")

    def __init__(self, state: str, extensions: int = 0, max_extensions: int = 1) -> None:
        self.state = state
        self.extensions = extensions
        self.max_extensions = max_extensions


CAN_EXTEND = Guard(
    "the time limit has already been extended the number of times the rules allow",
    lambda f: f.extensions < f.max_extensions,
)


def _edge(trigger: str, sources: tuple[FeedbackStatus, ...], dest: FeedbackStatus | None,
          *guards: Guard) -> Transition:  # fmt: skip
    return Transition(
        trigger, tuple(s.value for s in sources), dest.value if dest else None, guards
    )


S = FeedbackStatus
#: The lifecycle's edges.
EDGES: tuple[Transition, ...] = (
    _edge("receive", (S.NEW,), S.RECEIVED),
    _edge("accept", (S.RECEIVED,), S.ACCEPTED),
    _edge("forward", (S.RECEIVED,), S.FORWARDED),
    _edge("reject", (S.RECEIVED,), S.REJECTED),
    _edge("assign", (S.ACCEPTED, S.ASSIGNED), S.ASSIGNED),
    _edge("extend", (S.ACCEPTED, S.ASSIGNED), None, CAN_EXTEND),
    _edge("answer", (S.ASSIGNED,), S.ANSWERED),
    _edge("publish", (S.ANSWERED,), S.PUBLISHED),
    _edge("close", (S.ANSWERED, S.PUBLISHED), S.CLOSED),
)


class FeedbackLifecycle:
    """The shared state machine of feedback items, checked when built.

    Args:
        edges: The transitions (default :data:`EDGES`).

    Raises:
        DefinitionError: If a status is unreachable, a dead end, or a final status has an
            outgoing transition.
    """

    def __init__(self, edges: tuple[Transition, ...] = EDGES) -> None:
        states = [S.NEW.value]
        for edge in edges:
            for s in (*edge.sources, edge.dest):
                if s is not None and s not in states:
                    states.append(s)
        check_graph(states, edges)
        self._machine = SharedMachine(states, edges)

    def fire(self, trigger: str, facts: FeedbackFacts) -> FeedbackStatus:
        """Apply ``trigger`` and return the new status.

        Raises:
            InvalidTransition: If the trigger is unknown, not allowed in the status, or refused
                by a guard (the message says which).
        """
        status = facts.state
        try:
            done = self._machine.fire(trigger, facts)
        except KeyError:
            raise InvalidTransition(trigger, status, "feedback has no such command") from None
        except NotAllowed:
            raise InvalidTransition(trigger, status, "not allowed for this feedback") from None
        if not done:
            reasons = "; ".join(self._machine.refusals(trigger, facts))
            raise InvalidTransition(trigger, status, reasons or "a condition failed")
        return FeedbackStatus(facts.state)

    def allowed(self, facts: FeedbackFacts) -> list[str]:
        """The triggers that would succeed now."""
        return self._machine.allowed(facts)


def check_graph(states: list[str], edges: tuple[Transition, ...]) -> None:
    """Every status reachable from ``new``, reaching a final one; no edge leaves a final one.

    Raises:
        DefinitionError: Naming each status that breaks a rule.
    """
    graph: dict[str, set[str]] = {s: set() for s in states}
    for edge in edges:
        for s in edge.sources:
            graph[s].add(edge.dest or s)
    finals = {s.value for s in FINAL}
    problems = [
        Problem("<feedback lifecycle>", s, "unreachable")
        for s in states
        if s not in _reach(graph, S.NEW.value)
    ]
    problems += [
        Problem("<feedback lifecycle>", s, "a dead end")
        for s in states
        if s not in finals and not _reach(graph, s) & finals
    ]
    problems += [
        Problem("<feedback lifecycle>", s, f"final status has a transition {e.trigger!r}")
        for e in edges
        for s in e.sources
        if s in finals
    ]
    if problems:
        raise DefinitionError(problems)


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, queue = {start}, deque([start])
    while queue:
        for nxt in graph[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


# -- the time limits -----------------------------------------------------------------------


class Limit(BaseModel):
    """One time limit in working days, with its source (``assumed`` when none was found)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: float = Field(gt=0, le=365)
    assumed: bool
    source: str = Field(min_length=1, max_length=2000)


class Limits(BaseModel):
    """The limits of one version.

    Attributes:
        classify: Receipt → classified (forwarded, rejected or accepted), working days.
        handle: Receipt → answered, for an item within the agency's competence.
        extension: Added once to the handling limit by an extension letter (counts late).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    classify: Limit
    handle: Limit
    extension: Limit


class LawVersion(BaseModel):
    """The limits in force for items received from ``valid_from`` to ``valid_to``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$", max_length=60)
    valid_from: date
    valid_to: date | None = None
    source: str = Field(min_length=1, max_length=2000)
    limits: Limits


class _LawFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["feedback-law"]
    versions: tuple[LawVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _contiguous(self) -> _LawFile:
        ordered = sorted(self.versions, key=lambda v: v.valid_from)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if before.valid_to is None or (after.valid_from - before.valid_to).days != 1:
                raise ValueError(
                    f"version {after.name!r} must start the day after {before.name!r} ends"
                )
        return self


class FeedbackLaw:
    """The versioned time limits of feedback handling.

    Args:
        versions: The versions, contiguous in time.
    """

    def __init__(self, versions: tuple[LawVersion, ...]) -> None:
        self.versions = tuple(sorted(versions, key=lambda v: v.valid_from))
        self._by_name = {v.name: v for v in self.versions}

    @classmethod
    def load(cls, path: str | Path) -> FeedbackLaw:
        """Read ``feedback.yaml`` (or the one in a ``workflows/`` directory).

        Raises:
            DefinitionError: With file, key path and reason for every problem.
        """
        path = Path(path)
        if path.is_dir():
            path = path / "feedback.yaml"
        return cls(validate_model(_LawFile, load_yaml(path), str(path)).versions)

    def in_force(self, day: date) -> LawVersion:
        """The version governing items received on ``day``.

        Raises:
            DefinitionError: If no version covers ``day``.
        """
        for v in self.versions:
            if v.valid_from <= day and (v.valid_to is None or day <= v.valid_to):
                return v
        raise DefinitionError([Problem("feedback.yaml", "versions", f"no version for {day}")])

    def named(self, name: str) -> LawVersion:
        """The version stored on an item under ``name``."""
        return self._by_name[name]


@cache
def _as_procedure(days: float) -> Procedure:
    # A time limit counted the way a procedure's appointment is: one home for that law.
    return Procedure.model_validate(
        {"code": "feedback", "name_vi": "Phản ánh, kiến nghị", "name_en": "Feedback",
         "field": "feedback", "level": "any", "statutory_days": days,
         "route": {"steps": [{"code": "handle", "role": "feedback", "budget": days}]}}
    )  # fmt: skip


def due(calendar: Calendar, rules: RuleSet, start: datetime, days: float) -> datetime:
    """When ``days`` working days from ``start`` end (:func:`onestop.deadlines.appointment`).

    Example:
        >>> from onestop.clock import VN_TZ
        >>> cal, rules = Calendar.vietnam(years=[2025]), RuleSet(name="example")
        >>> due(cal, rules, datetime(2025, 3, 3, 9, tzinfo=VN_TZ), 5).isoformat()
        '2025-03-10T09:00:00+07:00'
    """
    return deadlines.appointment(calendar, rules, _as_procedure(days), start)


def extension_notice_in_time(
    calendar: Calendar, rules: RuleSet, issued_at: datetime, due_at: datetime
) -> bool:
    """Whether an extension letter met the apology-letter notice rule (one home: deadlines)."""
    return deadlines.apology_in_time(calendar, rules, issued_at, due_at)


def classify(answered_at: datetime, due_at: datetime, extended: bool) -> Timeliness:
    """Early, on time or late, as a dossier's result (:func:`timeliness.classify_resolution`)."""
    return timeliness.classify_resolution(answered_at, due_at, extended)


def _as_dossier_status(status: str) -> Status:
    # The one overdue predicate is stated on dossier statuses: open feedback is "processing".
    return Status.PROCESSING if FeedbackStatus(status) in OPEN else Status.RETURNED


def is_overdue(status: str, due_at: datetime | None, at: datetime) -> bool:
    """Whether an open item is past its time limit at ``at`` (:func:`timeliness.is_overdue`)."""
    return timeliness.is_overdue(_as_dossier_status(status), due_at, None, at)


def is_due_soon(status: str, due_at: datetime | None, at: datetime, horizon: datetime) -> bool:
    """Whether an open item falls due between ``at`` and ``horizon``."""
    return timeliness.is_due_soon(_as_dossier_status(status), due_at, None, at, horizon)
