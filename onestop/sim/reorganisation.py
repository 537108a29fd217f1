"""A simulation across a reorganisation: the 1 July 2025 switch with dossiers in flight.

:class:`ReorganisingSimulation` runs a scenario with a ``reorganisation:`` section on one engine
serving both unit sets (:class:`onestop.Timeline`). At the instant the section names, a
scheduled event plans and writes the transfers through the engine
(:meth:`onestop.Engine.reorganise`, which calls the pure :func:`onestop.reorganisation.plan`),
then arrivals, channels and staffing switch to the new unit set's. Dossiers in flight keep
their processes: the step under way is finished by the officer who holds it, the next steps go
to the successor's agencies, staffed anew at the switch, whose queues they join with the new
arrivals (the mechanism that can make them late).

"Late because of the transfer" is measured against a counterfactual run with the same seed and
no reorganisation (the three-tier city carrying on): both runs are identical until the switch,
so the dossiers in flight are the same dossiers (same ids); a transferred dossier counts when it
is late in the reorganised run and not in the counterfactual one.

Run it: ``python -m onestop.sim.reorganisation simulations/reorganisation-2025.yaml``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select

from onestop.catalog import Catalog, Procedure
from onestop.clock import VN_TZ
from onestop.definitions import Definitions
from onestop.engine import Engine
from onestop.errors import DefinitionError, Problem, UnknownProcedure, UnknownUnit
from onestop.log import configure
from onestop.periods import Period
from onestop.reports import on_time_report
from onestop.sim.calibration import JULY_2025_LATE_SHARE
from onestop.sim.model import Process, Simulation
from onestop.sim.runner import load_scenario
from onestop.sim.scenario import Reorganisation, Scenario
from onestop.sim.stats import wilson
from onestop.store.schema import dossiers
from onestop.timeline import Timeline
from onestop.units import Units


class _UnitsAcross:
    """The simulator's view of units during the switch: the unit set in force, and the old one
    for the agencies of steps still under way."""

    def __init__(self, view: _CatalogAcross) -> None:
        self._view = view

    def _both(self) -> tuple[Units, Units]:
        view = self._view
        current = view.current.units
        return current, (view.old if current is view.new.units else view.new).units

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view.current.units, name)

    def unit(self, code: str) -> Any:
        current, other = self._both()
        return current.unit(code) if current.has_unit(code) else other.unit(code)

    def agency(self, code: str) -> Any:
        current, other = self._both()
        return current.agency(code) if current.has_agency(code) else other.agency(code)

    def level_of(self, code: str) -> Any:
        current, other = self._both()
        return current.level_of(code) if current.has_unit(code) else other.level_of(code)


class _CatalogAcross:
    """The simulator's catalog during the run: the old one, then the new one from the switch
    (a procedure version not in the one in force is looked up in the other)."""

    def __init__(self, old: Catalog, new: Catalog) -> None:
        self.old, self.new = old, new
        self.switched = False
        self.units = _UnitsAcross(self)

    @property
    def current(self) -> Catalog:
        return self.new if self.switched else self.old

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current, name)

    def get(self, code: str, at: date | None = None, version: int | None = None) -> Procedure:
        try:
            return self.current.get(code, at, version)
        except UnknownProcedure:
            return (self.old if self.switched else self.new).get(code, at, version)


class ReorganisingSimulation(Simulation):
    """One replication of a scenario with a ``reorganisation:`` section.

    Args:
        scenario: The scenario (its ``reorganisation`` is required).
        workflows: The definitions directory.
        seed: Random seed.
        url: Database URL (default: in-memory SQLite).
        counterfactual: Run without the reorganisation (the old unit set carries on).
        memory: The engine over an in-memory store (default) or over SQL per command, as
            :class:`Simulation`'s ``memory`` and ``sql`` paths (the transfers at the switch
            are the engine's: the kernel path does not serve this scenario).

    Raises:
        DefinitionError: No ``reorganisation`` section, or an unknown mapping or unit set.
    """

    def __init__(
        self,
        scenario: Scenario,
        workflows: Path,
        seed: int,
        url: str = "sqlite://",
        *,
        counterfactual: bool = False,
        memory: bool = True,
    ) -> None:
        reorg = scenario.reorganisation
        if reorg is None:
            raise DefinitionError([Problem(scenario.name, "reorganisation", "missing")])
        defs = Definitions.load(workflows, scenario.unit_set)
        # On the fast path: the memory store answers the transfer's query for open dossiers.
        super().__init__(scenario, workflows, seed, url, defs, path="memory" if memory else "sql")
        self.reorg: Reorganisation = reorg
        self.counterfactual = counterfactual
        mapping = defs.mappings.get(reorg.mapping)
        if mapping is None or reorg.unit_set not in defs.unit_sets:
            raise UnknownUnit(f"unknown mapping {reorg.mapping!r} or unit set {reorg.unit_set!r}")
        self.mapping = mapping
        old, new = self.catalog, defs.catalog_for(reorg.unit_set)
        at = reorg.at if reorg.at.tzinfo else reorg.at.replace(tzinfo=VN_TZ)
        self.switch_at = at
        self.view = _CatalogAcross(old, new)
        if not counterfactual:
            store = self.engine.store
            store.sync_definitions(new)
            timeline = Timeline((old, new), {(old.units.name, new.units.name): mapping})
            self.engine = Engine(store, old, self.calendar, self.clock, timeline=timeline, dev=True)
            # The model's commands go through the engine that serves both unit sets.
            self._use(self.engine)
            self.catalog = cast(Catalog, self.view)
        self._generation = 0
        #: What the switch did: the dossiers it transferred, and those it could not map.
        self.transferred: list[int] = []
        self.unmapped: list[dict[str, Any]] = []

    def arrivals(self, rate: float, pick: Callable[[], tuple[Procedure, str]]) -> Process:
        """The base arrivals, ended at the switch for the old unit set's streams."""
        generation = self._generation
        inner = super().arrivals(rate, pick)
        try:
            event = next(inner)
        except StopIteration:
            return
        while True:
            value = yield event
            if generation != self._generation:
                return  # a stream of the old unit set: the switch ended it
            try:
                event = inner.send(value)
            except StopIteration:
                return

    def _switch(self) -> Process:
        """The scheduled reorganisation: transfer, then switch arrivals and staffing."""
        yield self.env.timeout(max(0.0, self.hours(self.switch_at)))
        self.sync()
        outcome = self.engine.reorganise(self.mapping, self.switch_at)
        self.transferred = [t.dossier_id for t in outcome.plan.transfers]
        self.unmapped = [
            {"dossier": u.dossier_id, "unit": u.unit, "procedure": u.procedure_code,
             "reason": u.reason}
            for u in outcome.plan.unmapped
        ]  # fmt: skip
        reorg, sc = self.reorg, self.scenario
        self.scenario = sc.model_copy(
            update={
                "volume": reorg.volume.model_copy(update={"scale": sc.volume.scale}),
                "channels": reorg.channels or sc.channels,
                "staffing": reorg.staffing or sc.staffing,
                "unit_set": reorg.unit_set,
            }
        )
        self.view.switched = True
        self._generation += 1
        self._loads = []
        self._online_weight = self._all_weight = 0.0
        streams = self._build_streams()
        eligible = self._online_weight / self._all_weight if self._all_weight else 1.0
        online = self.scenario.channels.online
        self.online_probability = min(1.0, online / eligible) if eligible else 0.0
        if self.scenario.staffing.target_utilisation is not None:
            self._load = self.expected_load()
        # Agencies of the new unit set are staffed anew (the city's bodies merged); officers
        # already holding a file finish it on the old roster (whose leave and other-post
        # processes then draw on the new roster: a small excess of absence at the city).
        for code in [c for c in self.staff if self.view.new.units.has_agency(c)]:
            del self.staff[code]
        for rate, pick in streams:
            self.env.process(self.arrivals(rate, pick))

    def run(self, progress: Callable[[float], None] | None = None) -> Any:
        """Run the replication, with the switch scheduled unless counterfactual."""
        if not self.counterfactual:
            self.env.process(self._switch())
        return super().run(progress)


def _levels(engine: Engine, period: Period, as_of: datetime) -> dict[str, dict[str, Any]]:
    report = on_time_report(engine.store, period, ["level"], as_of=as_of)
    return {
        str(r.key["level"]): {
            "resolved": r.resolved, "late": r.late,
            "on_time_rate": None if r.on_time_rate is None else round(r.on_time_rate, 5),
        }
        for r in report.rows
    }  # fmt: skip


def _late(engine: Engine, ids: list[int]) -> set[int]:
    """Of ``ids``, the dossiers resolved late (the scenario drains: every dossier resolves)."""
    found: set[int] = set()
    query = select(dossiers.c.id, dossiers.c.timeliness)
    with engine.store.read() as uow:
        for chunk in range(0, len(ids), 5000):
            part = ids[chunk : chunk + 5000]
            rows = uow.conn.execute(query.where(dossiers.c.id.in_(part))).all()
            found |= {int(i) for i, t in rows if t == "late"}
    return found


def run(
    path: str | Path, seed: int | None = None, scale: float | None = None, days: int | None = None
) -> dict[str, Any]:
    """Run the scenario and its counterfactual; the switch's figures.

    Args:
        path: The scenario file (with a ``reorganisation:`` section).
        seed: Random seed (default: the scenario's).
        scale: Volume scale (default: the scenario's).
        days: Days of arrivals (default: the scenario's), each run draining after them.

    Returns:
        On-time by level before and after the switch, dossiers in flight, transferred,
        unmapped, late among the transferred (and in the counterfactual), late because of the
        transfer, the share late of dossiers received 1-23 July 2025 against the published
        1.58 %, and the run times.
    """
    scenario, workflows = load_scenario(path, days, scale)
    base = scenario.seed if seed is None else seed
    started = time.perf_counter()
    sim = ReorganisingSimulation(scenario, workflows, base)
    result = sim.run()
    main_seconds = time.perf_counter() - started
    other = ReorganisingSimulation(scenario, workflows, base, counterfactual=True)
    other.run()
    total_seconds = time.perf_counter() - started
    end = sim.at(result.horizon_hours)
    switch_day = sim.switch_at.date()
    before = Period(scenario.start, switch_day - timedelta(days=1), "before")
    after = Period(switch_day, max(end.date(), switch_day), "after")
    late_here = _late(sim.engine, sim.transferred)
    late_there = _late(other.engine, sim.transferred)
    july = Period(date(2025, 7, 1), date(2025, 7, 23), "1-23 July 2025")
    received_july = select(dossiers.c.timeliness).where(
        dossiers.c.received_on >= july.start, dossiers.c.received_on <= july.end
    )
    with sim.engine.store.read() as uow:
        outcomes = [t for (t,) in uow.conn.execute(received_july)]
    resolved = [t for t in outcomes if t is not None]
    return {
        "scenario": scenario.name,
        "seed": base,
        "scale": scenario.volume.scale,
        "dossiers": result.dossiers,
        "switch": sim.switch_at.isoformat(),
        "on_time_before": _levels(sim.engine, before, end),
        "on_time_after": _levels(sim.engine, after, end),
        "in_flight_at_switch": len(sim.transferred) + len(sim.unmapped),
        "transferred": len(sim.transferred),
        "unmapped": sim.unmapped,
        "transferred_late": len(late_here),
        "transferred_late_counterfactual": len(late_there),
        "late_because_of_transfer": len(late_here - late_there),
        "july_1_23": {
            "received": len(outcomes),
            "late_share": wilson(sum(t == "late" for t in resolved), len(resolved)),
            "published_late_share": JULY_2025_LATE_SHARE,
        },
        "seconds": {
            "reorganised_run": round(main_seconds, 1),
            "both_runs": round(total_seconds, 1),
        },
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m onestop.sim.reorganisation SCENARIO [--seed N] [--scale X] [--days N]``:
    print the switch's figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("scenario")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--scale", type=float, default=None)
    parser.add_argument("--days", type=int, default=None)
    args = parser.parse_args(argv)
    configure(level="WARNING")  # a program of onestop's own: it configures its logging
    print(
        json.dumps(
            run(args.scenario, args.seed, args.scale, args.days), ensure_ascii=False, indent=2
        )
    )


if __name__ == "__main__":
    main()
