"""Contract with the ``transitions`` library: the behaviour onestop's adapter relies on.

If an upgrade of ``transitions`` changes any of this, these tests fail before anything else.
"""

from __future__ import annotations

import pytest
from transitions import EventData, Machine, MachineError

from onestop._machine import Guard, NotAllowed, SharedMachine, Transition


class Thing:
    def __init__(self, state: str, ok: bool = True) -> None:
        self.state = state
        self.ok = ok


def raw_machine() -> Machine:
    machine = Machine(
        model=None, states=["a", "b"], initial="a", auto_transitions=False, send_event=True
    )
    machine.add_transition("go", "a", "b", conditions=[lambda event: event.model.ok])
    return machine


def test_event_trigger_moves_a_model_that_was_never_added() -> None:
    machine = raw_machine()
    thing = Thing("a")
    assert machine.events["go"].trigger(thing) is True
    assert thing.state == "b"
    assert machine.models == []  # nothing was registered: no per-dossier cost


def test_a_failing_condition_returns_false_and_keeps_the_state() -> None:
    thing = Thing("a", ok=False)
    assert raw_machine().events["go"].trigger(thing) is False
    assert thing.state == "a"


def test_a_trigger_from_another_state_raises_machine_error() -> None:
    with pytest.raises(MachineError):
        raw_machine().events["go"].trigger(Thing("b"))


def test_conditions_receive_event_data_with_the_model() -> None:
    seen: list[object] = []

    def record(event: EventData) -> bool:
        seen.append(event.model)
        return True

    machine = Machine(model=None, states=["a", "b"], initial="a", auto_transitions=False,
                      send_event=True)  # fmt: skip
    machine.add_transition("go", "a", "b", conditions=[record])
    thing = Thing("a")
    machine.events["go"].trigger(thing)
    assert seen == [thing]


def test_the_adapter_fires_refuses_and_explains() -> None:
    shared = SharedMachine(
        ["a", "b"], [Transition("go", ("a",), "b", (Guard("not ok", lambda m: m.ok),))]
    )
    assert shared.fire("go", Thing("a")) is True
    refused = Thing("a", ok=False)
    assert shared.fire("go", refused) is False and refused.state == "a"
    assert shared.refusals("go", refused) == ["not ok"]
    assert shared.allowed(Thing("a")) == ["go"] and shared.allowed(refused) == []
    with pytest.raises(NotAllowed):
        shared.fire("go", Thing("b"))
    with pytest.raises(KeyError):
        shared.fire("fly", Thing("a"))
