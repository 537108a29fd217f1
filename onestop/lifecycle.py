"""Dossier statuses, triggers, and one shared state machine per procedure version.

The machine of a procedure version is a :class:`transitions.Machine` built once with no model.
To fire a trigger for a dossier, the engine hands it a throw-away :class:`Facts` object carrying
the dossier's status and the facts the guards need; nothing is ever added to the machine, so a
million open dossiers cost a million rows, not a million machines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any, cast

from transitions import Machine, MachineError

from onestop.catalog import Procedure
from onestop.errors import DefinitionError, InvalidTransition, Problem


class Status(StrEnum):
    """Dossier statuses, named after the national public-service portal's vocabulary."""

    NEW = "new"  # before the first command; never stored
    SUBMITTED = "submitted"
    RECEIVED = "received"
    REFUSED = "refused"
    PROCESSING = "processing"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    PAYMENT_REQUESTED = "payment_requested"
    WITHDRAWN = "withdrawn"
    SUSPENDED = "suspended"
    RESOLVED = "resolved"
    DISPATCHED = "dispatched"
    RETURNED = "returned"

    @property
    def portal_code(self) -> int:
        """The national portal's status code, for synchronisation (0 for ``new``)."""
        return PORTAL_CODES[self]

    @property
    def is_open(self) -> bool:
        """Whether the dossier is still being processed (no result yet, not ended)."""
        return self in OPEN_STATUSES

    @property
    def is_final(self) -> bool:
        """Whether no further trigger can change the status (rating aside)."""
        return self in FINAL_STATUSES


#: National public-service portal status codes (a postal dispatch is still "processed", 9).
PORTAL_CODES: dict[Status, int] = {
    Status.NEW: 0,
    Status.SUBMITTED: 1,
    Status.RECEIVED: 2,
    Status.REFUSED: 3,
    Status.PROCESSING: 4,
    Status.SUPPLEMENT_REQUESTED: 5,
    Status.PAYMENT_REQUESTED: 6,
    Status.WITHDRAWN: 7,
    Status.SUSPENDED: 8,
    Status.RESOLVED: 9,
    Status.DISPATCHED: 9,
    Status.RETURNED: 10,
}
#: Vietnamese labels of the statuses.
STATUS_VI: dict[Status, str] = {
    Status.NEW: "Mới",
    Status.SUBMITTED: "Mới đăng ký",
    Status.RECEIVED: "Được tiếp nhận",
    Status.REFUSED: "Không được tiếp nhận",
    Status.PROCESSING: "Đang xử lý",
    Status.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung giấy tờ",
    Status.PAYMENT_REQUESTED: "Yêu cầu thực hiện nghĩa vụ tài chính",
    Status.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
    Status.SUSPENDED: "Dừng xử lý",
    Status.RESOLVED: "Đã xử lý xong",
    Status.DISPATCHED: "Đã gửi kết quả qua bưu chính",
    Status.RETURNED: "Đã trả kết quả",
}
#: Statuses in which the dossier is in the agencies' hands, its deadline running or paused.
OPEN_STATUSES = frozenset(
    {
        Status.RECEIVED,
        Status.PROCESSING,
        Status.SUPPLEMENT_REQUESTED,
        Status.PAYMENT_REQUESTED,
        Status.SUSPENDED,
    }
)
#: Statuses in which the deadline clock runs.
RUNNING_STATUSES = (Status.RECEIVED.value, Status.PROCESSING.value)
#: Statuses with the deadline clock paused.
PAUSED_STATUSES = frozenset(
    {Status.SUPPLEMENT_REQUESTED, Status.PAYMENT_REQUESTED, Status.SUSPENDED}
)
FINAL_STATUSES = frozenset({Status.REFUSED, Status.WITHDRAWN, Status.RETURNED})
_ACTIVE = [Status.RECEIVED, Status.PROCESSING]


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
        rated: Whether the applicant has rated the service.
    """

    __slots__ = (
        "state",
        "step",
        "steps",
        "paused_from",
        "return_by_post",
        "apologies",
        "max_apologies",
        "rated",
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
        rated: bool = False,
    ) -> None:
        self.state = state
        self.step = step
        self.steps = steps
        self.paused_from = paused_from
        self.return_by_post = return_by_post
        self.apologies = apologies
        self.max_apologies = max_apologies
        self.rated = rated


Guard = Callable[[Any], bool]


def _guard(message: str, test: Callable[[Facts], bool]) -> Guard:
    def check(event: Any) -> bool:
        return test(event.model)

    check.message = message  # type: ignore[attr-defined]
    return check


HAS_NEXT = _guard("the dossier is at its last step", lambda f: f.step + 1 < f.steps)
AT_LAST = _guard(
    "the dossier is not at its last step; complete the remaining steps first",
    lambda f: f.step + 1 >= f.steps,
)
BY_POST = _guard("the result is not to be returned by post", lambda f: f.return_by_post)
NOT_BY_POST = _guard("the result goes by post: dispatch it first", lambda f: not f.return_by_post)
CAN_APOLOGISE = _guard(
    "the appointment date has already been reset the number of times the rules allow",
    lambda f: f.apologies < f.max_apologies,
)
NOT_RATED = _guard("the dossier has already been rated", lambda f: not f.rated)


def _back_to(status: Status) -> Guard:
    return _guard(f"not paused from {status}", lambda f: f.paused_from == status.value)


def _transitions_for(proc: Procedure) -> list[dict[str, Any]]:
    multi_step = len(proc.route.steps) > 1
    active = _ACTIVE if multi_step else [Status.RECEIVED]
    paused_ways = [
        ("request_supplement", "supplement", Status.SUPPLEMENT_REQUESTED),
        ("request_payment", "pay", Status.PAYMENT_REQUESTED),
        ("suspend", "resume", Status.SUSPENDED),
    ]
    t: list[dict[str, Any]] = [
        {"trigger": "receive", "source": Status.NEW, "dest": Status.RECEIVED},
        {"trigger": "refuse", "source": Status.NEW, "dest": Status.REFUSED},
    ]
    if proc.online != "none":
        t += [
            {"trigger": "submit_online", "source": Status.NEW, "dest": Status.SUBMITTED},
            {"trigger": "receive", "source": Status.SUBMITTED, "dest": Status.RECEIVED},
            {"trigger": "refuse", "source": Status.SUBMITTED, "dest": Status.REFUSED},
            {"trigger": "withdraw", "source": Status.SUBMITTED, "dest": Status.WITHDRAWN},
        ]
    if multi_step:
        t.append(
            {
                "trigger": "complete_step",
                "source": list(_ACTIVE),
                "dest": Status.PROCESSING,
                "conditions": [HAS_NEXT],
            }
        )
    for request, answer, paused in paused_ways:
        t.append({"trigger": request, "source": list(active), "dest": paused})
        for back in active:
            t.append(
                {"trigger": answer, "source": paused, "dest": back, "conditions": [_back_to(back)]}
            )
    open_now = [*active, Status.SUPPLEMENT_REQUESTED, Status.PAYMENT_REQUESTED, Status.SUSPENDED]
    t += [
        {"trigger": "withdraw", "source": list(open_now), "dest": Status.WITHDRAWN},
        {
            "trigger": "resolve",
            "source": list(active),
            "dest": Status.RESOLVED,
            "conditions": [AT_LAST],
        },
        {
            "trigger": "apologise",
            "source": list(open_now),
            "dest": None,
            "conditions": [CAN_APOLOGISE],
        },
        {
            "trigger": "return_result",
            "source": Status.RESOLVED,
            "dest": Status.RETURNED,
            "conditions": [NOT_BY_POST],
        },
        {"trigger": "rate", "source": Status.RETURNED, "dest": None, "conditions": [NOT_RATED]},
    ]
    if proc.postal:
        t += [
            {
                "trigger": "dispatch_post",
                "source": Status.RESOLVED,
                "dest": Status.DISPATCHED,
                "conditions": [BY_POST],
            },
            {"trigger": "return_result", "source": Status.DISPATCHED, "dest": Status.RETURNED},
        ]
    return t


class Lifecycle:
    """The state machine of one procedure version, shared by all its dossiers.

    Built and checked when the catalog is loaded: every status must be reachable from ``new``
    and every non-final status must be able to reach a final one.
    """

    def __init__(self, proc: Procedure) -> None:
        self.procedure_key = proc.key
        spec = _transitions_for(proc)
        states: list[str] = [Status.NEW.value]
        for tr in spec:
            sources = tr["source"] if isinstance(tr["source"], list) else [tr["source"]]
            for s in [*sources, tr["dest"]]:
                if s is not None and str(s) not in states:
                    states.append(str(s))
        self.machine = Machine(
            model=None,
            states=states,
            initial=Status.NEW.value,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        for tr in spec:
            src = tr["source"]
            self.machine.add_transition(
                tr["trigger"],
                [str(s) for s in src] if isinstance(src, list) else str(src),
                str(tr["dest"]) if tr["dest"] is not None else None,
                conditions=tr.get("conditions", []),
            )
        self.statuses = frozenset(Status(s) for s in states)
        self._graph: dict[str, set[str]] = {s: set() for s in states}
        for tr in spec:
            src = tr["source"] if isinstance(tr["source"], list) else [tr["source"]]
            for s in src:
                self._graph[str(s)].add(str(tr["dest"] if tr["dest"] is not None else s))
        self._check_graph(proc)

    def _check_graph(self, proc: Procedure) -> None:
        reached = _reach(self._graph, Status.NEW.value)
        problems = [
            Problem("<lifecycle>", proc.code, f"status {s!r} is unreachable")
            for s in self._graph
            if s not in reached
        ]
        finals = {s.value for s in FINAL_STATUSES}
        for s in self._graph:
            if s not in finals and not (_reach(self._graph, s) & finals):
                problems.append(Problem("<lifecycle>", proc.code, f"status {s!r} is a dead end"))
        if problems:
            raise DefinitionError(problems)

    @property
    def triggers(self) -> list[str]:
        """Every trigger of the machine."""
        return list(self.machine.events)

    def fire(self, trigger: str, facts: Facts) -> Status:
        """Apply ``trigger`` to a dossier described by ``facts`` and return its new status.

        Raises:
            InvalidTransition: If the trigger is unknown, not allowed in the status, or a guard
                refuses it (the message says which).
        """
        status = facts.state
        event = self.machine.events.get(trigger)
        if event is None:
            raise InvalidTransition(trigger, status, "this procedure has no such trigger")
        try:
            done = event.trigger(facts)
        except MachineError:
            raise InvalidTransition(trigger, status) from None
        if not done:
            reasons = [
                getattr(guard, "message", "a condition failed")
                for guard in _guards(event, status)
                if not guard(_Probe(facts))
            ]
            raise InvalidTransition(trigger, status, "; ".join(dict.fromkeys(reasons)))
        return Status(facts.state)

    def allowed(self, facts: Facts) -> list[str]:
        """The triggers that would succeed now for a dossier described by ``facts``."""
        out = []
        for name, event in self.machine.events.items():
            for tr in event.transitions.get(facts.state, []):
                if all(cast(Guard, c.func)(_Probe(facts)) for c in tr.conditions):
                    out.append(name)
                    break
        return out


def _guards(event: Any, status: str) -> list[Guard]:
    return [cast(Guard, c.func) for tr in event.transitions.get(status, []) for c in tr.conditions]


class _Probe:
    """Stands in for transitions' EventData when a guard is evaluated outside a trigger."""

    __slots__ = ("model",)

    def __init__(self, model: Facts) -> None:
        self.model = model


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for nxt in graph[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
