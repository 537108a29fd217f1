"""The lifecycle of a dossier: one shared state machine per procedure version.

A procedure version's machine is built (and checked) once, when its catalog loads. To fire a
trigger for a dossier, the engine hands the machine a throw-away :class:`Facts` object carrying
the dossier's status and what the guards need; nothing is ever added to the machine, so a
million open dossiers cost a million rows, not a million machines.

The checks, run at load time: every status is reachable from ``new``, every status can reach a
final one, and no transition leaves a final status. A rating is a fact recorded on a returned
dossier (:func:`check_rating`), not a transition.

Example:
    >>> from onestop.definitions import Definitions
    >>> catalog = Definitions.load("tests/fixtures/workflows").catalog
    >>> life = catalog.lifecycle(catalog.get("COPY"))
    >>> life.fire("receive", Facts("new")).value
    'received'
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from onestop._machine import Guard, NotAllowed, SharedMachine, Transition
from onestop.errors import DefinitionError, InvalidTransition, Problem
from onestop.status import FINAL_STATUSES, Status

if TYPE_CHECKING:
    from onestop.catalog import Procedure

_ACTIVE = (Status.RECEIVED, Status.PROCESSING)
_PAUSES = (
    ("request_supplement", "supplement", Status.SUPPLEMENT_REQUESTED),
    ("request_payment", "pay", Status.PAYMENT_REQUESTED),
    ("suspend", "resume", Status.SUSPENDED),
)


class Facts:
    """What the guards need to know about one dossier; also the machine's throw-away model.

    Attributes:
        state: The dossier's status (the machine reads and writes it).
        step: Index of the current route step.
        steps: Number of steps in the route.
        paused_from: The status to go back to after a supplement, payment or suspension.
        return_by_post: Whether the result goes back by post.
        apologies: Apology letters issued so far.
        max_apologies: How many the rules allow.
    """

    __slots__ = (
        "state",
        "step",
        "steps",
        "paused_from",
        "return_by_post",
        "apologies",
        "max_apologies",
    )

    def __init__(
        self,
        state: str,
        step: int = 0,
        steps: int = 1,
        paused_from: str | None = None,
        return_by_post: bool = False,
        apologies: int = 0,
        max_apologies: int = 1,
    ) -> None:
        self.state = state
        self.step = step
        self.steps = steps
        self.paused_from = paused_from
        self.return_by_post = return_by_post
        self.apologies = apologies
        self.max_apologies = max_apologies


HAS_NEXT = Guard("the dossier is at its last step", lambda f: f.step + 1 < f.steps)
AT_LAST = Guard(
    "the dossier is not at its last step; complete the remaining steps first",
    lambda f: f.step + 1 >= f.steps,
)
BY_POST = Guard("the result is not to be returned by post", lambda f: f.return_by_post)
NOT_BY_POST = Guard("the result goes by post: dispatch it first", lambda f: not f.return_by_post)
CAN_APOLOGISE = Guard(
    "the appointment date has already been reset the number of times the rules allow",
    lambda f: f.apologies < f.max_apologies,
)


def _back_to(status: Status) -> Guard:
    return Guard(f"not paused from {status}", lambda f: f.paused_from == status.value)


def _edge(
    trigger: str, sources: Status | tuple[Status, ...], dest: Status | None, *guards: Guard
) -> Transition:
    srcs = sources if isinstance(sources, tuple) else (sources,)
    return Transition(trigger, tuple(s.value for s in srcs), dest.value if dest else None, guards)


def transitions_for(proc: Procedure) -> list[Transition]:
    """The edges of a procedure's lifecycle: what its route, online and postal flags allow."""
    multi_step = len(proc.route.steps) > 1
    active = _ACTIVE if multi_step else (Status.RECEIVED,)
    edges = [
        _edge("receive", Status.NEW, Status.RECEIVED),
        _edge("refuse", Status.NEW, Status.REFUSED),
    ]
    if proc.online != "none":
        edges += [
            _edge("submit_online", Status.NEW, Status.SUBMITTED),
            _edge("receive", Status.SUBMITTED, Status.RECEIVED),
            _edge("refuse", Status.SUBMITTED, Status.REFUSED),
            _edge("withdraw", Status.SUBMITTED, Status.WITHDRAWN),
        ]
    if multi_step:
        edges.append(_edge("complete_step", _ACTIVE, Status.PROCESSING, HAS_NEXT))
    for request, answer, paused in _PAUSES:
        edges.append(_edge(request, active, paused))
        edges += [_edge(answer, paused, back, _back_to(back)) for back in active]
    open_now = (*active, *(paused for _, _, paused in _PAUSES))
    edges += [
        _edge("withdraw", open_now, Status.WITHDRAWN),
        _edge("resolve", active, Status.RESOLVED, AT_LAST),
        _edge("apologise", open_now, None, CAN_APOLOGISE),
        _edge("return_result", Status.RESOLVED, Status.RETURNED, NOT_BY_POST),
    ]
    if proc.postal:
        edges += [
            _edge("dispatch_post", Status.RESOLVED, Status.DISPATCHED, BY_POST),
            _edge("return_result", Status.DISPATCHED, Status.RETURNED),
        ]
    return edges


class Lifecycle:
    """The state machine of one procedure version, shared by all its dossiers.

    Raises:
        DefinitionError: If a status is unreachable, a dead end, or a final status has an
            outgoing transition.
    """

    def __init__(self, proc: Procedure) -> None:
        self.procedure_key = proc.key
        edges = transitions_for(proc)
        states = [Status.NEW.value]
        for edge in edges:
            for s in (*edge.sources, edge.dest):
                if s is not None and s not in states:
                    states.append(s)
        self.statuses = frozenset(Status(s) for s in states)
        graph: dict[str, set[str]] = {s: set() for s in states}
        for edge in edges:
            for s in edge.sources:
                graph[s].add(edge.dest or s)
        _check_graph(proc.code, graph, edges)
        self._machine = SharedMachine(states, edges)
        # The guards read nothing but the facts, so the machine's answer to a trigger is a
        # function of them: each allowed (trigger, facts) is run through the machine once.
        self._allowed: dict[tuple[Any, ...], str] = {}

    @property
    def triggers(self) -> list[str]:
        """Every trigger of the machine."""
        return self._machine.triggers

    def fire(self, trigger: str, facts: Facts) -> Status:
        """Apply ``trigger`` to a dossier described by ``facts`` and return its new status.

        Raises:
            InvalidTransition: If the trigger is unknown, not allowed in the status, or a guard
                refuses it (the message says which).
        """
        key = (
            trigger, facts.state, facts.step, facts.steps, facts.paused_from,
            facts.return_by_post, facts.apologies, facts.max_apologies,
        )  # fmt: skip
        known = self._allowed.get(key)
        if known is not None:
            facts.state = known
            return Status(known)
        status = facts.state
        try:
            done = self._machine.fire(trigger, facts)
        except KeyError:
            raise InvalidTransition(trigger, status, "this procedure has no such trigger") from None
        except NotAllowed:
            raise InvalidTransition(trigger, status) from None
        if not done:
            reasons = self._machine.refusals(trigger, facts)
            raise InvalidTransition(trigger, status, "; ".join(reasons) or "a condition failed")
        self._allowed[key] = facts.state
        return Status(facts.state)

    def allowed(self, facts: Facts) -> list[str]:
        """The triggers that would succeed now for a dossier described by ``facts``."""
        return self._machine.allowed(facts)


def check_rating(status: Status | str, rated: bool) -> None:
    """A rating is recorded once, on a returned dossier.

    Raises:
        InvalidTransition: Otherwise.
    """
    if Status(status) is not Status.RETURNED:
        raise InvalidTransition("rate", str(status), "only a returned dossier can be rated")
    if rated:
        raise InvalidTransition("rate", str(status), "the dossier has already been rated")


def _check_graph(code: str, graph: dict[str, set[str]], edges: list[Transition]) -> None:
    reached = _reach(graph, Status.NEW.value)
    problems = [
        Problem("<lifecycle>", code, f"status {s!r} is unreachable")
        for s in graph
        if s not in reached
    ]
    finals = {s.value for s in FINAL_STATUSES}
    for s in graph:
        if s not in finals and not (_reach(graph, s) & finals):
            problems.append(Problem("<lifecycle>", code, f"status {s!r} is a dead end"))
    for edge in edges:
        for s in edge.sources:
            if s in finals:
                problems.append(
                    Problem(
                        "<lifecycle>", code, f"final status {s!r} has a transition {edge.trigger!r}"
                    )
                )
    if problems:
        raise DefinitionError(problems)


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for nxt in graph[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
