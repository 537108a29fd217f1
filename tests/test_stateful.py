"""Stateful property testing of the engine (hypothesis RuleBasedStateMachine).

Random valid and invalid commands on random dossiers, with clock jumps across weekends and
holidays. After every step: the dossier row equals the replay of its events, its status is one
of its machine's statuses with the right portal code, its timeliness agrees with an independent
computation, and a refused command changed nothing. The CI profile runs 100 × 100 = 10,000 steps.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from sqlalchemy import func, select

from onestop import VN_TZ, Calendar, Engine, ManualClock, OnestopError
from onestop.status import PORTAL_CODES, Status
from onestop.store.schema import dossier_steps, events

from .conftest import FIXTURES
from .helpers import assert_replays

CALENDAR = Calendar.vietnam(years=range(2024, 2028))
PROCS = {"BIRTH": ["W1", "W2", "W3"], "COPY": ["W1", "W3"], "LAND": ["D1", "D2"],
         "JUDICIAL": ["C"], "BUILD": ["D1", "D2"]}  # fmt: skip
UNITS = ["C", "D1", "D2", "W1", "W2", "W3", "NOPE"]
TRIGGERS = ["complete_step", "request_supplement", "supplement", "request_payment", "pay",
            "suspend", "resume", "withdraw", "resolve", "apologise", "dispatch_post",
            "return_result", "rate", "refuse", "receive_submitted"]  # fmt: skip


#: Steps checked, across every example (read by whoever wants the figure).
STEPS_CHECKED = [0]


def expected_timeliness(row: dict[str, Any]) -> str | None:
    """Independent of onestop.timeliness: judged at resolution against the date in force."""
    if row["resolved_at"] is None:
        return None
    if row["apologies"] > 0 or row["resolved_at"] > row["due_at"]:
        return "late"
    if row["resolved_at"].astimezone(VN_TZ).date() < row["due_at"].astimezone(VN_TZ).date():
        return "early"
    return "on_time"


class EngineMachine(RuleBasedStateMachine):
    dossiers = Bundle("dossiers")

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(datetime(2025, 1, 20, 8, 0, tzinfo=VN_TZ))
        self.engine = Engine.open("sqlite://", FIXTURES, clock=self.clock, calendar=CALENDAR)
        self.touched: set[int] = set()
        self.steps_run = 0

    def teardown(self) -> None:
        self.engine.store.dispose()

    def snapshot(self, dossier_id: int) -> tuple[Any, ...]:
        with self.engine.store.read() as uow:
            conn = uow.conn
            row = uow.load_dossier(dossier_id)
            n_events = conn.execute(
                select(func.count()).select_from(events).where(events.c.dossier_id == dossier_id)
            ).scalar()
            n_steps = conn.execute(
                select(func.count())
                .select_from(dossier_steps)
                .where(dossier_steps.c.dossier_id == dossier_id)
            ).scalar()
        return tuple(sorted(row.items())), n_events, n_steps

    @rule(
        target=dossiers,
        proc=st.sampled_from(sorted(PROCS)),
        pick=st.integers(0, 10),
        channel=st.sampled_from(["counter", "online", "postal"]),
        ret=st.sampled_from(["counter", "online", "post"]),
        elsewhere=st.sampled_from([None, "W1", "D2", "NOPE"]),
        online_first=st.booleans(),
    )
    def new_dossier(self, proc, pick, channel, ret, elsewhere, online_first):  # type: ignore[no-untyped-def]
        unit = PROCS[proc][pick % len(PROCS[proc])] if pick < 9 else UNITS[pick % len(UNITS)]
        with self.engine.store.engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(events)).scalar()
        try:
            if online_first:
                d = self.engine.submit_online(proc, unit, return_method=ret)
            else:
                d = self.engine.receive(
                    proc, unit, intake_unit=elsewhere, channel=channel, return_method=ret
                )
        except OnestopError:
            with self.engine.store.engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(events)).scalar() == before
            return None
        self.touched.add(d.id)
        return d.id

    @rule(dossier=dossiers, trigger=st.sampled_from(TRIGGERS), n=st.integers(-3, 8),
          online=st.booleans())  # fmt: skip
    def command(self, dossier, trigger, n, online):  # type: ignore[no-untyped-def]
        if dossier is None:
            return
        engine = self.engine
        before = self.snapshot(dossier)
        calls = {
            "complete_step": lambda: engine.complete_step(dossier),
            "request_supplement": lambda: engine.request_supplement(dossier, "thiếu"),
            "supplement": lambda: engine.supplement(dossier),
            "request_payment": lambda: engine.request_payment(dossier, n * 10_000),
            "pay": lambda: engine.pay(dossier, online=online),
            "suspend": lambda: engine.suspend(dossier, "tạm dừng"),
            "resume": lambda: engine.resume(dossier),
            "withdraw": lambda: engine.withdraw(dossier),
            "resolve": lambda: engine.resolve(dossier, outcome="approved" if online else "denied"),
            "apologise": lambda: engine.apologise(
                dossier, self.clock.now() + timedelta(days=n), "chậm"
            ),
            "dispatch_post": lambda: engine.dispatch_post(dossier),
            "return_result": lambda: engine.return_result(dossier),
            "rate": lambda: engine.rate(dossier, n),
            "refuse": lambda: engine.refuse(dossier, "không đủ điều kiện"),
            "receive_submitted": lambda: engine.receive_submitted(dossier),
        }
        try:
            calls[trigger]()
        except OnestopError:
            assert self.snapshot(dossier) == before, f"refused {trigger} changed the dossier"
        self.touched.add(dossier)
        self.steps_run += 1

    @rule(minutes=st.integers(1, 60 * 24 * 12))
    def time_passes(self, minutes):  # type: ignore[no-untyped-def]
        if self.clock.now() + timedelta(minutes=minutes) < datetime(2027, 6, 1, tzinfo=VN_TZ):
            self.clock.advance(timedelta(minutes=minutes))

    @invariant()
    def dossiers_are_consistent(self) -> None:
        STEPS_CHECKED[0] += 1
        for dossier_id in self.touched:
            assert_replays(self.engine, dossier_id)
            d = self.engine.get(dossier_id)
            proc = self.engine.catalog.get(d.procedure_code, version=d.procedure_version)
            assert d.status in self.engine.lifecycle(proc).statuses
            assert d.status_code == PORTAL_CODES[d.status]
            expected = expected_timeliness(d.to_dict())
            assert (d.timeliness.value if d.timeliness else None) == expected
            if d.status is Status.DISPATCHED:
                assert d.return_method == "post"
        self.touched.clear()


EngineMachine.TestCase.settings = settings(
    # The loaded profile's examples (tests/conftest.py: ci gives 100 × 100 = 10,000 steps).
    max_examples=int(os.environ.get("ONESTOP_STATEFUL_EXAMPLES", settings().max_examples)),
    stateful_step_count=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngineStateful = EngineMachine.TestCase
