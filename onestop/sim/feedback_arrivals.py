"""Citizen feedback in a simulation: Poisson arrivals per unit, handled through the real
feedback desk (:class:`onestop.feedback_commands.FeedbackDesk`) on the simulation's engine.

A scenario's optional ``feedback:`` key gives the city's yearly volume, how it splits over the
levels (each level's share spread evenly over its units: one Poisson stream per unit, drawn as
one marked stream), how items are classified, and how long classification and answering take
in working days. Lateness is not typed in: an item is late when the drawn answering time passes
the law's limit (the officer then asks for the one extension first, as for an apology letter).
The items are written to the same store, so ``onestop report --kind feedback`` reads a simulated
year like a real one; :meth:`FeedbackLoad.summary` gives the volume, the on-time share and the
officer hours the items add (they do not queue for the dossiers' officers: a stated
simplification).
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from onestop.engine import Engine
from onestop.feedback import FeedbackLaw
from onestop.feedback_commands import FeedbackDesk
from onestop.sim.distribution import Distribution

if TYPE_CHECKING:
    from pathlib import Path

    from onestop.sim.model import Simulation

Process = Generator[Any, Any, None]
#: Working days a year, to turn a yearly volume into a rate per working hour.
WORKING_DAYS_PER_YEAR = 250.0


class FeedbackArrivals(BaseModel):
    """The ``feedback:`` key of a scenario.

    Attributes:
        per_year: Feedback items a year, whole city (before the volume's ``scale``).
        unit: What ``per_year`` counts (stated, e.g. ``items per year, whole city``).
        source: Where the figure comes from.
        level_shares: Share of the items received at each level (spread evenly over its units).
        forwarded: Share forwarded to another competent agency.
        rejected: Share rejected (anonymous, duplicate, outside scope).
        classify_days: Working days from receipt to classification.
        answer_days: Working days from classification to the answer.
        officer_hours: Officer working hours an accepted item takes (the load reported).
        rating_share: Share of answered items the sender rates.
        scale: Share of ``per_year`` simulated (default: the volume's ``scale``). The items do
            not queue for the dossiers' officers, so a full-volume feedback stream beside a
            scaled-down dossier stream changes no dossier figure.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_year: float = Field(gt=0, le=10_000_000)
    unit: str = Field(min_length=1)
    source: str = Field(min_length=1)
    level_shares: dict[str, float] = Field(min_length=1)
    forwarded: float = Field(default=0.0, ge=0, le=1)
    rejected: float = Field(default=0.0, ge=0, le=1)
    classify_days: Distribution = Distribution(kind="triangular", low=0.2, mode=1, high=3)
    answer_days: Distribution = Distribution(kind="triangular", low=1, mode=4, high=9)
    officer_hours: float = Field(default=2.0, ge=0)
    rating_share: float = Field(default=0.0, ge=0, le=1)
    scale: float | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _shares(self) -> FeedbackArrivals:
        if self.forwarded + self.rejected > 1:
            raise ValueError("forwarded + rejected must not exceed 1")
        if any(v < 0 for v in self.level_shares.values()) or not sum(self.level_shares.values()):
            raise ValueError("level_shares must be non-negative and not all zero")
        return self


class FeedbackLoad:
    """The feedback stream of one replication and what it produced."""

    def __init__(self, sim: Simulation, spec: FeedbackArrivals, workflows: Path) -> None:
        self.sim = sim
        self.spec = spec
        # Its own random numbers: adding feedback leaves the dossiers' draws unchanged.
        self.rng = random.Random(sim.seed * 7919 + 18)
        # Feedback items go through the SQL store: the memory store keeps dossiers only. Their
        # events take database ids and negative case ids, so they never meet the dossiers' bulk
        # writes.
        engine = sim.engine
        if sim.memory is not None:
            engine = Engine(
                sim.db, sim.engine.catalog, sim.calendar, sim.clock, sim.engine.rules, dev=True
            )
        self.desk = FeedbackDesk(engine, FeedbackLaw.load(workflows))
        units = sim.catalog.units
        total = sum(spec.level_shares.values())
        self.units: list[str] = []
        self.weights: list[float] = []
        for level, share in spec.level_shares.items():
            at_level = units.units_at(level)
            if not at_level:
                raise ValueError(f"feedback.level_shares: no unit at level {level!r}")
            for unit in at_level:
                self.units.append(unit.code)
                self.weights.append(share / total / len(at_level))
        self.received = self.answered = self.officer_hours = 0.0

    def rate_per_working_hour(self) -> float:
        """The whole stream's rate (the sum of the per-unit Poisson rates)."""
        scale = self.spec.scale or self.sim.scenario.volume.scale
        return self.spec.per_year * scale / (WORKING_DAYS_PER_YEAR * self.sim.hours_per_day)

    def arrivals(self) -> Process:
        """Poisson arrivals in working time; each marked with its unit (per-unit streams)."""
        sim, rate = self.sim, self.rate_per_working_hour()
        while True:
            yield sim.env.timeout(sim.working_delay(self.rng.expovariate(rate)))
            if sim.env.now >= sim.arrival_end:
                return
            unit = self.rng.choices(self.units, self.weights)[0]
            sim.env.process(self.item(unit))

    def _wait_days(self, days: float) -> Any:
        return self.sim.env.timeout(self.sim.working_delay(days * self.sim.hours_per_day))

    def item(self, unit: str) -> Process:
        """One item: received, classified, then forwarded, rejected or answered."""
        sim, spec, desk, rng = self.sim, self.spec, self.desk, self.rng
        subject = rng.choice(("procedure", "procedure", "regulation"))
        item = sim.do(desk.receive, channel=rng.choice(("portal", "hotline")), subject=subject,
                      unit=unit)  # fmt: skip
        self.received += 1
        yield self._wait_days(spec.classify_days.sample(rng))
        draw = rng.random()
        if draw < spec.forwarded:
            sim.do(desk.forward, item.id, _forward_to(sim, unit))
            return
        if draw < spec.forwarded + spec.rejected:
            sim.do(desk.reject, item.id, "duplicate")
            return
        item = sim.do(desk.accept, item.id)
        sim.do(desk.assign, item.id, "sim-officer")
        self.officer_hours += spec.officer_hours
        answer_at = sim.env.now + sim.working_delay(
            spec.answer_days.sample(rng) * sim.hours_per_day
        )
        if item.due_at is not None and sim.at(answer_at) > item.due_at:
            # The officer sees it coming: the extension letter, the working day before.
            notice = sim.hours(sim.calendar.add_working_days(item.due_at, -1))
            yield sim.env.timeout(max(0.0, notice - sim.env.now))
            sim.do(desk.extend, item.id, "cần thêm thời gian xác minh")
        yield sim.env.timeout(max(0.0, answer_at - sim.env.now))
        sim.do(desk.answer, item.id)
        sim.do(desk.publish, item.id)
        self.answered += 1
        if rng.random() < spec.rating_share:
            sim.do(desk.rate, item.id, rng.choices((5, 4, 3, 2), (70, 22, 6, 2))[0], "portal")

    def summary(self) -> dict[str, Any]:
        """Received, answered and the officer hours the items added (report figures come from
        ``onestop report --kind feedback`` on the simulation's database)."""
        return {
            "received": int(self.received),
            "answered": int(self.answered),
            "officer_hours": self.officer_hours,
            "rate_per_working_hour": self.rate_per_working_hour(),
        }


def _forward_to(sim: Simulation, unit: str) -> str:
    units = sim.catalog.units
    parent = units.unit(unit).parent
    agency = units.agency_for("desk", parent or unit)
    return agency.code if agency is not None else units.all_agencies[0].code


def start_feedback(sim: Simulation, workflows: Path) -> FeedbackLoad | None:
    """Start the scenario's feedback stream, if it has one."""
    spec = sim.scenario.feedback
    if spec is None:
        return None
    load = FeedbackLoad(sim, spec, workflows)
    sim.env.process(load.arrivals())
    return load
