"""The discrete-event model: SimPy processes drive the real Engine under a ManualClock.

Simulated time is hours since the scenario's start. Before every engine command the clock is set
to the simulated instant, so the engine's calendar, deadlines, events and reports are exactly
those of real operation. Officers are :class:`simpy.PriorityResource` slots per agency,
serving the file whose step is due first, for service time measured in *working* time
(converted through the calendar, so nights, weekends, holidays and Tết pass without work).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

import simpy

from onestop.calendar import Calendar
from onestop.catalog import Procedure
from onestop.clock import VN_TZ, ManualClock
from onestop.deadlines import apology_deadline
from onestop.definitions import Definitions
from onestop.engine import Engine
from onestop.errors import InvalidTransition, NotAllowedHere
from onestop.periods import Period
from onestop.reports import full_report, on_time_report
from onestop.sim.feedback_arrivals import start_feedback
from onestop.sim.kernel import Kernel
from onestop.sim.mechanisms import tet_rush_days
from onestop.sim.scenario import Scenario
from onestop.store import Store
from onestop.store.memory import BulkHolder, MemoryStore

Process = Generator[Any, Any, None]
CommandPath = Literal["kernel", "memory", "sql"]
#: How a simulation runs its commands (see :class:`Simulation`).
PATHS: tuple[CommandPath, ...] = ("kernel", "memory", "sql")


@dataclass
class AgencyStats:
    """Queue statistics of one agency.

    Time averages (utilisation, queue length, arrival rate) are taken over the *window*: from the
    end of the warm-up to the last arrival, so neither the empty start nor the drain (applicants
    collecting results after the last arrival) dilutes them. Waits are per visit (one dossier at
    one step, however many work sessions it took), in calendar hours and in working hours.
    ``total_*`` fields cover the whole run, for Little's law on the sample path.
    """

    capacity: int
    window: tuple[float, float]
    window_working_hours: float
    requests: int = 0
    visits: int = 0
    visit_wait_calendar: float = 0.0
    visit_wait_working: float = 0.0
    busy_working: float = 0.0
    away_working: float = 0.0
    queue_area: float = 0.0  # ∫ queue length dt over the window
    total_queue_area: float = 0.0
    total_wait: float = 0.0
    queue: int = 0
    last_change: float = 0.0

    def queue_changed(self, now: float, delta: int) -> None:
        w0, w1 = self.window
        self.total_queue_area += self.queue * (now - self.last_change)
        overlap = min(now, w1) - max(self.last_change, w0)
        if overlap > 0:
            self.queue_area += self.queue * overlap
        self.queue += delta
        self.last_change = now

    def summary(self) -> dict[str, float]:
        """Per-visit waits, and the window's time-average queue, arrival rate and utilisation."""
        w0, w1 = self.window
        span = w1 - w0
        capacity_hours = self.capacity * self.window_working_hours
        return {
            "capacity": self.capacity,
            "visits": self.visits,
            "requests": self.requests,
            "mean_wait_per_visit_calendar_hours": (
                self.visit_wait_calendar / self.visits if self.visits else 0.0
            ),
            "mean_wait_per_visit_working_hours": (
                self.visit_wait_working / self.visits if self.visits else 0.0
            ),
            "mean_queue": self.queue_area / span if span else 0.0,
            "visits_per_hour": self.visits / span if span else 0.0,
            "utilisation": self.busy_working / capacity_hours if capacity_hours else 0.0,
            "away_share": self.away_working / capacity_hours if capacity_hours else 0.0,
            "total_queue_area": self.total_queue_area,
            "total_wait_hours": self.total_wait,
        }


@dataclass
class RunResult:
    """What one replication produced."""

    seed: int
    dossiers: int
    commands: int
    horizon_hours: float
    report: dict[str, Any]
    agencies: dict[str, dict[str, float]]
    wall_seconds: float = 0.0
    by_field: list[dict[str, Any]] = field(default_factory=list)
    dossier_waits: dict[str, float] = field(default_factory=dict)


def _constant(value: tuple[Procedure, str]) -> tuple[Procedure, str]:
    return value


class Simulation:
    """One replication of a scenario.

    Args:
        scenario: What to simulate.
        workflows: The definitions directory.
        seed: Random seed of this replication.
        url: Database URL the events are written to (default: in-memory SQLite).
        definitions: Already loaded definitions (saves reloading per replication).
        calendar: Already built calendar.
        path: How commands run: ``kernel`` (the default, the fast path: the engine's law
            applied to rows in memory by :class:`onestop.sim.kernel.Kernel`, events sealed and
            written to ``url`` in bulk); ``memory`` (the whole engine over an in-memory store,
            :class:`onestop.store.memory.MemoryStore`, written in bulk); ``sql`` (the whole
            engine over ``url``, one transaction and one validated call per command). All
            three write the same events for the same seed.
        events: Write the events (the default). ``False`` (kernel path only) writes the rows
            and steps alone, for a run read only for its figures (which are the same).
    """

    def __init__(
        self,
        scenario: Scenario,
        workflows: Path,
        seed: int,
        url: str = "sqlite://",
        definitions: Definitions | None = None,
        calendar: Calendar | None = None,
        path: CommandPath = "kernel",
        events: bool = True,
    ) -> None:
        self.scenario = scenario
        self.workflows = workflows
        self.rng = random.Random(seed)
        self.seed = seed
        defs = definitions or Definitions.load(workflows, scenario.unit_set)
        self.catalog = defs.catalog
        start = scenario.start
        if calendar is None:
            if scenario.calendar == "round_the_clock":
                last = start + timedelta(days=scenario.days + 800)
                calendar = Calendar.round_the_clock(start, last)
            else:
                calendar = Calendar.vietnam(overrides=defs.overrides)
        self.calendar = calendar
        self.hours_per_day = calendar.office_hours.seconds_per_day / 3600
        self.t0 = datetime.combine(start, datetime.min.time(), VN_TZ)
        self.clock = ManualClock(self.t0)
        # Simulated dossiers are never synchronised with the national portal: no outbox.
        self.db = Store(url, outbox=False)
        self.db.migrate()
        self.db.sync_definitions(self.catalog)
        if path not in PATHS:
            raise ValueError(f"path: {path!r} is not one of {', '.join(PATHS)}")
        self.path = path
        self.memory = MemoryStore(self.db) if path == "memory" else None
        # Simulated dossiers are not records: without an audit key the chain is unkeyed.
        engine = Engine(self.memory or self.db, self.catalog, calendar, self.clock, dev=True)
        self.engine = engine
        if not events and path != "kernel":
            raise ValueError(f"events=False needs path='kernel' (not {path!r})")
        self.kernel = Kernel(engine, events=events) if path == "kernel" else None
        self._holder: BulkHolder | None = self.kernel or self.memory
        self._use(engine)
        self._live: set[int] = set()  # dossiers whose process runs
        self.env = simpy.Environment()
        self.staff: dict[str, simpy.PriorityResource] = {}
        self.stats: dict[str, AgencyStats] = {}
        self.dossiers = 0
        self.commands = 0
        self.open = 0  # dossier processes still running (officers' other duties stop at 0)
        self.arrival_end = scenario.days * 24.0
        self.window = (scenario.warmup_days * 24.0, self.arrival_end)
        self.window_working_hours = self._working_hours_between(*self.window)
        self.visit_waits: list[tuple[float, float]] = []  # per dossier: (calendar, working) h
        mech = scenario.mechanisms
        self.rush = (
            tet_rush_days(
                calendar,
                start,
                start + timedelta(days=scenario.days),
                mech.tet_backlog.working_days_before,
            )
            if mech.tet_backlog
            else set()
        )
        self._online_weight = self._all_weight = 0.0
        self._loads: list[tuple[float, Any, list[tuple[Procedure, str, float]]]] = []
        self._streams = self._build_streams()
        self._load = self.expected_load() if scenario.staffing.target_utilisation else {}
        # ``channels.online`` is the share of all dossiers (as the city reports it): only
        # procedures offered online can be submitted online, so they get a higher probability.
        eligible = self._online_weight / self._all_weight if self._all_weight else 1.0
        self.online_probability = min(1.0, scenario.channels.online / eligible) if eligible else 0.0

    def _use(self, engine: Engine) -> None:
        """Send the model's commands through the kernel, or through ``engine``: its trusted
        path over memory (commands built here need no validation), its public one over SQL."""
        kernel = self.kernel
        self._receive: Callable[..., Any]
        self._execute: Callable[..., Any]
        self._get: Callable[[int], Any]
        if kernel is not None:
            self._receive, self._execute, self._get = kernel.receive, kernel.execute, kernel.get
        elif self.memory is not None:
            self._receive, self._execute = engine.receive_trusted, engine.execute_trusted
            self._get = engine.get
        else:
            self._receive, self._execute, self._get = engine.receive, engine.execute, engine.get

    # -- time ---------------------------------------------------------------------------------

    def at(self, hours: float) -> datetime:
        """The datetime of simulated time ``hours``."""
        return self.t0 + timedelta(hours=hours)

    def hours(self, moment: datetime) -> float:
        """Simulated time of ``moment``."""
        return (moment - self.t0).total_seconds() / 3600

    def sync(self) -> datetime:
        """Set the engine's clock to the simulated now."""
        now = self.at(self.env.now)
        if now > self.clock.now():
            self.clock.set(now)
        return self.clock.now()

    def working_delay(self, working_hours: float) -> float:
        """Calendar hours from now until ``working_hours`` of office time have passed."""
        now = self.sync()
        end = self.calendar.add_working_days(now, working_hours / self.hours_per_day)
        return max(0.0, self.hours(end) - self.env.now)

    def _working_hours_between(self, a: float, b: float) -> float:
        if b <= a:
            return 0.0
        return self.calendar.working_days_between(self.at(a), self.at(b)) * self.hours_per_day

    def _in_window(self, a: float, b: float, working: float) -> float:
        """Working hours of the interval [a, b] (``working`` of them in all) inside the window."""
        w0, w1 = self.window
        if a >= w0 and b <= w1:
            return working
        return self._working_hours_between(max(a, w0), min(b, w1))

    # -- commands -----------------------------------------------------------------------------

    def do(self, command: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one engine command at the simulated now; ``None`` if the engine refused it."""
        self.sync()
        try:
            result = command(*args, **kwargs)
        except (InvalidTransition, NotAllowedHere):
            return None
        self.commands += 1
        return result

    # -- arrivals -----------------------------------------------------------------------------

    def _build_streams(self) -> list[tuple[float, Callable[[], tuple[Procedure, str]]]]:
        """(rate per working hour, picker) for each arrival stream."""
        sc, units, catalog = self.scenario, self.catalog.units, self.catalog
        # The versions in force now (the start, or a reorganisation's switch): the latest may
        # route the same procedure to another agency (driving licences: police from March 2025).
        today = self.at(self.env.now).date()
        working_hours_year = 248 * self.hours_per_day
        if sc.calendar == "round_the_clock":
            working_hours_year = 365 * 24
        streams: list[tuple[float, Callable[[], tuple[Procedure, str]]]] = []
        day_hours = 24 if sc.calendar == "round_the_clock" else self.hours_per_day
        for arrival in sc.volume.arrivals:
            units.unit(arrival.unit)
            proc = catalog.get(arrival.procedure, at=today)
            fixed = partial(_constant, (proc, arrival.unit))
            streams.append((arrival.per_day / day_hours * sc.volume.scale, fixed))
            self._loads.append((streams[-1][0], fixed, [(proc, arrival.unit, 1.0)]))
        weights = sc.volume.procedure_weights
        for level, per_year in sc.volume.per_year.items():
            procs = [p for p in catalog.in_force(today) if p.level == level]
            competent = [u.code for u in units.units_at(level)]
            if not procs or not competent:
                continue
            cum: list[float] = []
            total = 0.0
            for p in procs:
                total += weights.get(p.code, weights.get(p.field, 1.0))
                cum.append(total)

            def pick(
                procs: list[Procedure] = procs,
                cum: list[float] = cum,
                competent: list[str] = competent,
            ) -> tuple[Procedure, str]:
                i = bisect.bisect_left(cum, self.rng.random() * cum[-1])
                return procs[min(i, len(procs) - 1)], self.rng.choice(competent)

            streams.append((per_year * sc.volume.scale / working_hours_year, pick))
            combos = [
                (p, u, (c - prev) / cum[-1] / len(competent))
                for p, c, prev in zip(procs, cum, [0.0, *cum[:-1]], strict=True)
                for u in competent
            ]
            self._loads.append((streams[-1][0], pick, combos))
            rate = per_year * sc.volume.scale
            online_ok = sum(
                weights.get(p.code, weights.get(p.field, 1.0)) for p in procs if p.online != "none"
            )
            self._online_weight += rate * online_ok / cum[-1]
            self._all_weight += rate
        return streams

    def _profile(self, moment: datetime) -> float:
        vol = self.scenario.volume
        factor = vol.weekday_profile[moment.weekday()] * vol.month_profile.get(moment.month, 1.0)
        tet = self.scenario.mechanisms.tet_backlog
        if tet is not None and moment.date() in self.rush:
            factor *= tet.surge
        return factor

    def arrivals(self, rate: float, pick: Callable[[], tuple[Procedure, str]]) -> Process:
        """Poisson arrivals in working time, thinned by the weekday and month profiles."""
        vol = self.scenario.volume
        peak = max(vol.weekday_profile) * max([1.0, *vol.month_profile.values()])
        if self.scenario.mechanisms.tet_backlog is not None:
            peak *= self.scenario.mechanisms.tet_backlog.surge
        if rate <= 0 or peak <= 0:
            return
        end = self.scenario.days * 24.0
        while True:
            gap = self.rng.expovariate(rate * peak)
            yield self.env.timeout(self.working_delay(gap))
            if self.env.now >= end:
                return
            if self.rng.random() * peak <= self._profile(self.at(self.env.now)):
                proc, unit = pick()
                self.env.process(self.dossier(proc, unit))

    # -- one dossier --------------------------------------------------------------------------

    def _mean_work_hours(self, proc: Procedure, budget: float) -> float:
        service = self.scenario.service
        dist = service.by_field.get(proc.field, service.default)
        if service.unit == "hours":
            return dist.expected
        return dist.expected * budget * self.hours_per_day

    def expected_load(self) -> dict[str, float]:
        """Officer-hours needed per working hour, by agency, from the arrival streams."""
        load: dict[str, float] = {}
        for rate, _pick, combos in self._loads:
            for proc, unit, share in combos:
                for step in proc.route.steps:
                    agency = self.catalog.step_agency(proc, step, unit).code
                    work = self._mean_work_hours(proc, step.budget)
                    load[agency] = load.get(agency, 0.0) + rate * share * work
        return load

    def expected_visits(self) -> dict[str, float]:
        """Step visits per working hour, by agency, from the arrival streams."""
        visits: dict[str, float] = {}
        for rate, _pick, combos in self._loads:
            for proc, unit, share in combos:
                for step in proc.route.steps:
                    agency = self.catalog.step_agency(proc, step, unit).code
                    visits[agency] = visits.get(agency, 0.0) + rate * share
        return visits

    def headcount(self, agency: str) -> int:
        """Officers of ``agency``: its stated count (by agency, by level and role, by role, else
        the default; or, for exploration, sized from the expected load at
        ``target_utilisation``), times the staffing's ``factor`` (:class:`Staffing`)."""
        st = self.scenario.staffing
        if agency in st.by_agency:
            return st.officers(st.by_agency[agency])
        spec = self.catalog.units.agency(agency)
        level = self.catalog.units.level_of(spec.unit).code
        by_level = st.by_level.get(level, {})
        if spec.role in by_level:
            return st.officers(by_level[spec.role])
        if spec.role in st.by_role:
            return st.officers(st.by_role[spec.role])
        sizing = st.sizing_utilisation
        if sizing is not None:
            return max(1, math.ceil(self._load.get(agency, 0.0) / sizing))
        return st.officers(st.default)

    def _officers(self, agency: str) -> simpy.PriorityResource:
        res = self.staff.get(agency)
        if res is None:
            count = self.headcount(agency)
            # Officers take the file whose step is due first (earliest deadline first).
            res = self.staff[agency] = simpy.PriorityResource(self.env, capacity=count)
            self.stats[agency] = AgencyStats(
                count, self.window, self.window_working_hours, last_change=self.env.now
            )
            level = self.catalog.units.level_of(self.catalog.units.agency(agency).unit).code
            mech = self.scenario.mechanisms
            for _ in range(count):
                if mech.absence is not None:
                    self.env.process(self.absences(agency))
                if mech.other_posts is not None and mech.other_posts.share_by_level.get(level):
                    self.env.process(self.other_post(agency, level))
        return res

    # -- officers' time away from the agency's files ------------------------------------------

    def _running(self) -> bool:
        return self.env.now < self.arrival_end or self.open > 0

    def away(self, agency: str, working_hours: float) -> Process:
        """One officer of ``agency`` leaves its files for ``working_hours`` of office time
        (taken as soon as the current work session ends: files are not dropped mid-session)."""
        stats = self.stats[agency]
        with self.staff[agency].request(priority=-1) as slot:
            yield slot
            begin = self.env.now
            held = self.working_delay(working_hours)
            yield self.env.timeout(held)
            stats.away_working += self._in_window(begin, begin + held, working_hours)

    def absences(self, agency: str) -> Process:
        """One officer's leave: episodes at Poisson times in working time."""
        absence = self.scenario.mechanisms.absence
        assert absence is not None
        rng, hpd = self.rng, self.hours_per_day
        if absence.leave_days_per_year <= 0:
            return
        mean_episode = absence.episode_days.expected
        gap_days = max(248 - absence.leave_days_per_year, 1) * mean_episode
        gap_days /= absence.leave_days_per_year
        while self._running():
            yield self.env.timeout(self.working_delay(rng.expovariate(1 / gap_days) * hpd))
            days = absence.episode_days.sample(rng)
            if self._running() and rng.random() >= absence.covered_share:
                yield from self.away(agency, days * hpd)

    def other_post(self, agency: str, level: str) -> Process:
        """One officer's blocks of work on another post."""
        posts = self.scenario.mechanisms.other_posts
        assert posts is not None
        share = posts.share_by_level[level]
        gap = posts.block_hours * (1 - share) / share
        while self._running():
            yield self.env.timeout(self.working_delay(self.rng.expovariate(1 / gap)))
            if self._running():
                yield from self.away(agency, posts.block_hours)

    def dossier(self, proc: Procedure, unit: str) -> Process:
        """The life of one dossier, every state change through the engine."""
        sc, rng = self.scenario, self.rng
        ch = sc.channels
        online = proc.online != "none" and rng.random() < self.online_probability
        postal = not online and proc.postal and rng.random() < ch.postal
        intake = None
        if proc.location_independent and rng.random() < ch.location_independent:
            levels = proc.intake_levels or tuple(self.catalog.units.levels)
            candidates = [u.code for lvl in levels for u in self.catalog.units.units_at(lvl)]
            intake = rng.choice(candidates) if candidates else None
        ret = (
            "post"
            if proc.postal and rng.random() < ch.post_return
            else ("online" if online else "counter")
        )
        d = self.do(
            self._receive,
            proc.code,
            unit,
            intake_unit=intake,
            channel="online" if online else ("postal" if postal else "counter"),
            return_method=ret,
        )
        if d is None:
            return
        if d.procedure_version != proc.version:  # a version came into force since the pick
            proc = self.catalog.get(proc.code, version=d.procedure_version)
        self.dossiers += 1
        self.open += 1
        self._live.add(d.id)
        try:
            yield from self._process(proc, d, online, ret)
        finally:
            self.open -= 1
            self._live.discard(d.id)
            if self._holder is not None:  # it leaves memory with the next bulk write
                self._holder.retire(d.id)

    def _process(self, proc: Procedure, d: Any, online: bool, ret: str) -> Process:
        sc, rng, run = self.scenario, self.rng, self._execute
        beh, mech = sc.behaviour, sc.mechanisms
        steps = proc.route.steps
        if beh.apology:
            self.env.process(self.watch(d.id))
        paper = False
        if mech.handover is not None and not online and sc.channels.online < 1:
            paper_share = (1 - mech.handover.digitised_share) / (1 - sc.channels.online)
            paper = rng.random() < paper_share
        main_step = max(range(len(steps)), key=lambda i: steps[i].budget)
        rounds = [r for r in (mech.consultation, mech.site_visit) if r is not None]
        rounds = [r for r in rounds if rng.random() < r.share(proc.field)]
        received = self.env.now
        waits = [0.0, 0.0]
        supplement_step = rng.randrange(len(steps)) if rng.random() < beh.supplement_rate else -1
        withdraw_step = rng.randrange(len(steps)) if rng.random() < beh.withdraw_rate else -1
        service = sc.service.by_field.get(proc.field, sc.service.default)
        for k, step in enumerate(steps):
            budget_hours = step.budget * self.hours_per_day
            if sc.service.unit == "hours":
                work = service.sample(rng)
            else:
                work = service.sample(rng, budget_hours)
            step_due = self.hours(d.step_due_at) if d.step_due_at else self.env.now
            agency = d.current_agency or ""
            yield from self.work(agency, work, step_due, waits)
            if k == main_step:
                for external in rounds:
                    # Another agency's opinion or a site visit: the officer prepares it, then
                    # the file waits (no officer held), possibly for several rounds.
                    while True:
                        if external.officer_hours:
                            yield from self.work(agency, external.officer_hours, step_due, waits)
                        delay = external.delay_days.sample(rng) * self.hours_per_day
                        yield self.env.timeout(self.working_delay(delay))
                        if rng.random() >= external.extra_round_share:
                            break
            if k == withdraw_step:
                self.do(run, "withdraw", d.id, {"reason": "applicant withdrew"})
                return
            asked_supplement = k == supplement_step and self.do(
                run, "request_supplement", d.id, {"reason": "bổ sung giấy tờ"}
            )
            if asked_supplement:
                delay = beh.supplement_delay_days.sample(rng) * self.hours_per_day
                yield self.env.timeout(self.working_delay(delay))
                self.do(run, "supplement", d.id)
            if k + 1 < len(steps):
                d = self.do(run, "complete_step", d.id) or self._get(d.id)
                if mech.handover is not None and d.current_agency != agency:
                    # The file goes to the next agency: a paper file bound for another unit, or
                    # for another building of the same unit, is carried there; otherwise it is
                    # signed out and opened.
                    hand = mech.handover
                    units = self.catalog.units
                    here = units.agency(agency).unit
                    carried = units.agency(d.current_agency or agency).unit != here
                    carried = carried or units.level_of(here).code in hand.carried_within_levels
                    delay = (
                        hand.paper_days.sample(rng) * self.hours_per_day
                        if paper and carried
                        else hand.digital_hours.sample(rng)
                    )
                    yield self.env.timeout(self.working_delay(delay))
                continue
            asked_payment = proc.fee_vnd > 0 and self.do(
                run, "request_payment", d.id, {"amount_vnd": proc.fee_vnd}
            )
            if asked_payment:
                delay = beh.payment_delay_days.sample(rng) * self.hours_per_day
                yield self.env.timeout(self.working_delay(delay))
                self.do(run, "pay", d.id, {"online": rng.random() < beh.paid_online})
            self.do(run, "resolve", d.id)
        if self.window[0] <= received < self.window[1]:
            self.visit_waits.append((waits[0], waits[1]))
        yield from self.deliver(d.id, ret)

    def work(
        self, agency: str, hours: float, due: float, waits: list[float] | None = None
    ) -> Process:
        """An officer of ``agency`` spends ``hours`` of working time on a file due at ``due``.

        Work goes in sessions (``service.session_hours``): between sessions the file goes back
        in the queue, so officers interleave files by deadline instead of finishing a 20-hour
        land file while a same-day certification waits.
        """
        officers = self._officers(agency)
        stats = self.stats[agency]
        session = self.scenario.service.session_hours
        remaining = hours
        visit_start = self.env.now
        wait_calendar = wait_working = 0.0
        while remaining > 1e-9:
            chunk = remaining if session is None else min(session, remaining)
            stats.requests += 1
            asked = self.env.now
            stats.queue_changed(asked, +1)
            with officers.request(priority=round(due * 60)) as slot:
                yield slot
                now = self.env.now
                stats.queue_changed(now, -1)
                stats.total_wait += now - asked
                if now > asked:
                    wait_calendar += now - asked
                    wait_working += self._working_hours_between(asked, now)
                held = self.working_delay(chunk)
                stats.busy_working += self._in_window(now, now + held, chunk)
                yield self.env.timeout(held)
            remaining -= chunk
        if self.window[0] <= visit_start < self.window[1]:
            stats.visits += 1
            stats.visit_wait_calendar += wait_calendar
            stats.visit_wait_working += wait_working
        if waits is not None:
            waits[0] += wait_calendar
            waits[1] += wait_working

    def deliver(self, dossier_id: int, method: str) -> Process:
        """Return the result: by post (dispatch, transit) or collected / downloaded."""
        beh, rng, run = self.scenario.behaviour, self.rng, self._execute
        if method == "post":
            self.do(run, "dispatch_post", dossier_id)
            yield self.env.timeout(24 * rng.uniform(1, 3))
        else:
            delay = beh.collect_delay_days.sample(rng) * self.hours_per_day
            yield self.env.timeout(self.working_delay(delay))
        returned = self.do(run, "return_result", dossier_id) is not None
        if returned and rng.random() < beh.rating_share:
            scores, weights = zip(*beh.ratings.items(), strict=True)
            self.do(run, "rate", dossier_id, {"score": rng.choices(scores, weights)[0]})

    def watch(self, dossier_id: int) -> Process:
        """On the last day the law allows an apology letter (Form 04) in time
        (:func:`onestop.deadlines.apology_deadline` under the dossier's rule set), an officer
        who sees the dossier will be late (less time left than the remaining steps' expected
        work) issues one. The new date is set by that expected work:
        the remaining steps' mean work from now, in whole working days, at least one."""
        engine, cal = self.engine, self.calendar
        while dossier_id in self._live:  # a retired dossier may have left the store
            d = self._get(dossier_id)
            if not d.status.is_open or d.due_at is None or d.apologies:
                return
            rules = engine.rules.named(d.rule_set)
            notice_day = apology_deadline(cal, rules, d.due_at)
            warn = cal.next_opening(datetime.combine(notice_day, datetime.min.time(), VN_TZ))
            if self.hours(warn) > self.env.now:
                yield self.env.timeout(self.hours(warn) - self.env.now)
                continue  # the deadline may have moved (pauses): look again
            if d.paused_at is not None:  # the clock stands still: nothing to announce yet
                yield self.env.timeout(self.hours_per_day)
                continue
            proc = self.catalog.get(d.procedure_code, version=d.procedure_version)
            remaining = sum(
                self._mean_work_hours(proc, s.budget) for s in proc.route.steps[d.step_index :]
            )
            now = self.sync()
            left = cal.working_days_between(now, d.due_at)
            if remaining / self.hours_per_day > left:
                days = max(1, math.ceil(remaining / self.hours_per_day))
                new_due = cal.add_working_days(max(d.due_at, now), days)
                reason = "hồ sơ cần thêm thời gian xử lý"
                self.do(
                    self._execute, "apologise", dossier_id, {"new_due": new_due, "reason": reason}
                )
                return
            yield self.env.timeout(self.working_delay(min(left, 0.5) * self.hours_per_day) or 1)

    # -- running ------------------------------------------------------------------------------

    def run(self, progress: Callable[[float], None] | None = None) -> RunResult:
        """Run the replication; ``progress`` gets the share of arrival days done."""
        import time

        t0 = time.perf_counter()
        for rate, pick in self._streams:
            self.env.process(self.arrivals(rate, pick))
        feedback = start_feedback(self, self.workflows)  # onestop.sim.feedback_arrivals
        days = self.scenario.days
        with self.kernel.batch() if self.kernel is not None else self.engine.batch():
            for day in range(1, days + 1):
                self.env.run(until=day * 24.0)
                if progress is not None:
                    progress(day / days)
            if self.scenario.drain:
                self.env.run()
        horizon = max(self.env.now, 1e-9)
        for st in self.stats.values():
            st.queue_changed(horizon, 0)
        end = self.at(horizon)
        self.sync()
        first = self.scenario.start + timedelta(days=self.scenario.warmup_days)
        period = Period(first, max(end.date(), first), "simulation")
        report = full_report(self.db, period, ["level"], as_of=end)
        fields = on_time_report(self.db, period, ["field"], as_of=end)
        n = len(self.visit_waits)
        return RunResult(
            seed=self.seed,
            dossiers=self.dossiers,
            commands=self.commands,
            horizon_hours=horizon,
            report={**report.as_dict(), "feedback": feedback and feedback.summary()},
            agencies={a: s.summary() for a, s in sorted(self.stats.items())},
            wall_seconds=time.perf_counter() - t0,
            by_field=[
                {"field": r["field"], "resolved": r["resolved"], "late": r["late"]}
                for r in fields.as_dict()["rows"]
            ],
            dossier_waits={
                "dossiers": n,
                "mean_wait_calendar_hours": sum(w[0] for w in self.visit_waits) / n if n else 0.0,
                "mean_wait_working_hours": sum(w[1] for w in self.visit_waits) / n if n else 0.0,
            },
        )
