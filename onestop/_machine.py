"""The one place onestop touches the ``transitions`` library.

onestop keeps **one** machine per procedure version and fires it on throw-away model objects
(never ``add_model``): ``Event.trigger(model)`` runs a trigger for any object with a ``state``
attribute. That is documented on ``transitions.core.Event.trigger`` but not a headline feature, so
it lives behind this adapter, and ``tests/test_machine_contract.py`` pins the behaviour we rely
on. Guards are our own callables kept in our own table, so explaining a refusal or listing the
allowed triggers never reads the library's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from transitions import Machine, MachineError


class Model(Protocol):
    """What the machine fires on: anything with a mutable ``state``."""

    state: str


@dataclass(frozen=True)
class Guard:
    """A named condition on the model; ``message`` says why a trigger was refused."""

    message: str
    test: Callable[[Any], bool]

    def __call__(self, event: Any) -> bool:
        # transitions calls conditions with its EventData (send_event=True).
        return self.test(event.model)


@dataclass(frozen=True)
class Transition:
    """One edge: ``trigger`` from each of ``sources`` to ``dest`` (``None``: stay)."""

    trigger: str
    sources: tuple[str, ...]
    dest: str | None
    guards: tuple[Guard, ...] = field(default=())


class NotAllowed(Exception):
    """No transition for this trigger leaves the model's state."""


class SharedMachine:
    """A :class:`transitions.Machine` with no model, shared by every dossier of a definition.

    Args:
        states: Every state; the first is the initial one.
        edges: The transitions.
    """

    def __init__(self, states: Sequence[str], edges: Sequence[Transition]) -> None:
        self._machine = Machine(
            model=None,
            states=list(states),
            initial=states[0],
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        self._guards: dict[tuple[str, str], list[Guard]] = {}
        self.edges = tuple(edges)
        for edge in self.edges:
            self._machine.add_transition(
                edge.trigger, list(edge.sources), edge.dest, conditions=list(edge.guards)
            )
            for source in edge.sources:
                self._guards.setdefault((edge.trigger, source), []).extend(edge.guards)

    @property
    def triggers(self) -> list[str]:
        """Every trigger, in definition order."""
        return list(dict.fromkeys(e.trigger for e in self.edges))

    def fire(self, trigger: str, model: Model) -> bool:
        """Fire ``trigger`` on ``model``; its ``state`` is updated when a transition ran.

        Returns:
            False if a guard refused every transition from the state.

        Raises:
            KeyError: If the machine has no such trigger.
            NotAllowed: If no transition for ``trigger`` leaves the model's state.
        """
        event = self._machine.events[trigger]
        try:
            return bool(event.trigger(model))
        except MachineError:
            raise NotAllowed(trigger) from None

    def refusals(self, trigger: str, model: Model) -> list[str]:
        """Messages of the guards that refuse ``trigger`` for ``model`` now."""
        guards = self._guards.get((trigger, model.state), [])
        return list(dict.fromkeys(g.message for g in guards if not g.test(model)))

    def allowed(self, model: Model) -> list[str]:
        """Triggers that would succeed now for ``model``."""
        out = []
        for trigger in self.triggers:
            if any(
                e.trigger == trigger
                and model.state in e.sources
                and all(g.test(model) for g in e.guards)
                for e in self.edges
            ):
                out.append(trigger)
        return out
