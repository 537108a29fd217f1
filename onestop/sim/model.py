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
from typing import Any

import simpy

from onestop.calendar import Calendar
from onestop.catalog import Procedure
from onestop.clock import VN_TZ, ManualClock
from onestop.deadlines import apology_deadline
from onestop.definitions import Definitions
from onestop.engine import Engine
from onestop.errors import InvalidTransition, NotAllowedHere
from onestop.periods import Period
from onestop.reports import full_report
from onestop.sim.scenario import Scenario
from onestop.store import Store

Process = Generator[Any, Any, None]


@dataclass
class AgencyStats:
    """Queue statistics of one agency over a run (hours)."""

    capacity: int
    requests: int = 0
    served: int = 0
    wait_hours: float = 0.0
    busy_hours: float = 0.0
    queue_area: float = 0.0  # ∫ queue length dt
    queue: int = 0
    last_change: float = 0.0

    def queue_changed(self, now: float, delta: int) -> None:
        self.queue_area += self.queue * (now - self.last_change)
        self.queue += delta
        self.last_change = now

    def summary(self, horizon: float) -> dict[str, float]:
        """Mean wait, time-average queue length, arrival rate, utilisation, Little's L = λW."""
        mean_wait = self.wait_hours / self.served if self.served else 0.0
        rate = self.requests / horizon if horizon else 0.0
        return {
            "capacity": self.capacity,
            "requests": self.requests,
            "mean_wait_hours": mean_wait,
            "mean_queue": self.queue_area / horizon if horizon else 0.0,
            "arrival_rate_per_hour": rate,
            "little_l": rate * mean_wait,
            "utilisation": self.busy_hours / (self.capacity * horizon) if horizon else 0.0,
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
    extra: dict[str, Any] = field(default_factory=dict)


def _constant(value: tuple[Procedure, str]) -> tuple[Procedure, str]:
    return value


class Simulation:
    """One replication of a scenario.

    Args:
        scenario: What to simulate.
        workflows: The definitions directory.
        seed: Random seed of this replication.
        url: Database URL (default: in-memory SQLite, the fast path).
        definitions: Already loaded definitions (saves reloading per replication).
        calendar: Already built calendar.
    """

    def __init__(
        self,
        scenario: Scenario,
        workflows: Path,
        seed: int,
        url: str = "sqlite://",
        definitions: Definitions | None = None,
        calendar: Calendar | None = None,
    ) -> None:
        self.scenario = scenario
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
        store = Store(url)
        store.migrate()
        store.sync_definitions(self.catalog)
        self.engine = Engine(store, self.catalog, calendar, self.clock)
        self.env = simpy.Environment()
        self.staff: dict[str, simpy.PriorityResource] = {}
        self.stats: dict[str, AgencyStats] = {}
        self.dossiers = 0
        self.commands = 0
        self._online_weight = self._all_weight = 0.0
        self._loads: list[tuple[float, Any, list[tuple[Procedure, str, float]]]] = []
        self._streams = self._build_streams()
        self._load = self.expected_load() if scenario.staffing.target_utilisation else {}
        # ``channels.online`` is the share of all dossiers (as the city reports it): only
        # procedures offered online can be submitted online, so they get a higher probability.
        eligible = self._online_weight / self._all_weight if self._all_weight else 1.0
        self.online_probability = min(1.0, scenario.channels.online / eligible) if eligible else 0.0

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
        working_hours_year = 248 * self.hours_per_day
        if sc.calendar == "round_the_clock":
            working_hours_year = 365 * 24
        streams: list[tuple[float, Callable[[], tuple[Procedure, str]]]] = []
        day_hours = 24 if sc.calendar == "round_the_clock" else self.hours_per_day
        for arrival in sc.volume.arrivals:
            units.unit(arrival.unit)
            fixed = partial(_constant, (catalog.get(arrival.procedure), arrival.unit))
            streams.append((arrival.per_day / day_hours * sc.volume.scale, fixed))
            self._loads.append(
                (streams[-1][0], fixed, [(catalog.get(arrival.procedure), arrival.unit, 1.0)])
            )
        weights = sc.volume.procedure_weights
        for level, per_year in sc.volume.per_year.items():
            procs = [p for p in catalog.procedures() if p.level == level]
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
        return vol.weekday_profile[moment.weekday()] * vol.month_profile.get(moment.month, 1.0)

    def arrivals(self, rate: float, pick: Callable[[], tuple[Procedure, str]]) -> Process:
        """Poisson arrivals in working time, thinned by the weekday and month profiles."""
        vol = self.scenario.volume
        peak = max(vol.weekday_profile) * max([1.0, *vol.month_profile.values()])
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

    def _officers(self, agency: str) -> simpy.PriorityResource:
        res = self.staff.get(agency)
        if res is None:
            st = self.scenario.staffing
            role = self.catalog.units.agency(agency).role
            count = st.default
            if st.target_utilisation is not None:
                needed = self._load.get(agency, 0.0) / st.target_utilisation
                count = max(1, math.ceil(needed))
            count = st.by_agency.get(agency, st.by_role.get(role, count))
            # Officers take the file whose step is due first (earliest deadline first).
            res = self.staff[agency] = simpy.PriorityResource(self.env, capacity=count)
            self.stats[agency] = AgencyStats(count, last_change=self.env.now)
        return res

    def dossier(self, proc: Procedure, unit: str) -> Process:
        """The life of one dossier, every state change through the engine."""
        sc, rng, engine = self.scenario, self.rng, self.engine
        ch, beh = sc.channels, sc.behaviour
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
            engine.receive,
            proc.code,
            unit,
            intake_unit=intake,
            channel="online" if online else ("postal" if postal else "counter"),
            return_method=ret,
        )
        if d is None:
            return
        self.dossiers += 1
        steps = proc.route.steps
        overrun = beh.overrun_rate.get(proc.level, 0.0)
        late_step = rng.randrange(len(steps)) if rng.random() < overrun else -1
        if beh.apology:
            self.env.process(self.watch(d.id, late_step >= 0))
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
            yield from self.work(d.current_agency or "", work, step_due)
            if k == late_step:
                # An overrun: the file waits past the appointment date (site visit, another
                # agency's opinion, an absent officer) by a multiple of the step's budget. It
                # is waiting, not work: no officer is held.
                now = self.sync()
                to_due = max(0.0, self.calendar.working_days_between(now, d.due_at or now))
                extra = (beh.overrun_factor.sample(rng) - 1) * budget_hours
                yield self.env.timeout(
                    self.working_delay(to_due * self.hours_per_day + max(extra, 0.5))
                )
            if k == withdraw_step:
                self.do(engine.withdraw, d.id, reason="applicant withdrew")
                return
            asked_supplement = k == supplement_step and self.do(
                engine.request_supplement, d.id, "bổ sung giấy tờ"
            )
            if asked_supplement:
                delay = beh.supplement_delay_days.sample(rng) * self.hours_per_day
                yield self.env.timeout(self.working_delay(delay))
                self.do(engine.supplement, d.id)
            if k + 1 < len(steps):
                d = self.do(engine.complete_step, d.id) or engine.get(d.id)
                continue
            asked_payment = proc.fee_vnd > 0 and self.do(engine.request_payment, d.id, proc.fee_vnd)
            if asked_payment:
                delay = beh.payment_delay_days.sample(rng) * self.hours_per_day
                yield self.env.timeout(self.working_delay(delay))
                self.do(engine.pay, d.id, online=rng.random() < beh.paid_online)
            self.do(engine.resolve, d.id)
        yield from self.deliver(d.id, ret)

    def work(self, agency: str, hours: float, due: float) -> Process:
        """An officer of ``agency`` spends ``hours`` of working time on a file due at ``due``.

        Work goes in sessions (``service.session_hours``): between sessions the file goes back
        in the queue, so officers interleave files by deadline instead of finishing a 20-hour
        land file while a same-day certification waits.
        """
        officers = self._officers(agency)
        stats = self.stats[agency]
        session = self.scenario.service.session_hours
        remaining = hours
        while remaining > 1e-9:
            chunk = remaining if session is None else min(session, remaining)
            stats.requests += 1
            asked = self.env.now
            stats.queue_changed(asked, +1)
            with officers.request(priority=round(due * 60)) as slot:
                yield slot
                stats.queue_changed(self.env.now, -1)
                stats.wait_hours += self.env.now - asked
                stats.served += 1
                held = self.working_delay(chunk)
                stats.busy_hours += held
                yield self.env.timeout(held)
            remaining -= chunk

    def deliver(self, dossier_id: int, method: str) -> Process:
        """Return the result: by post (dispatch, transit) or collected / downloaded."""
        beh, rng, engine = self.scenario.behaviour, self.rng, self.engine
        if method == "post":
            self.do(engine.dispatch_post, dossier_id)
            yield self.env.timeout(24 * rng.uniform(1, 3))
        else:
            delay = beh.collect_delay_days.sample(rng) * self.hours_per_day
            yield self.env.timeout(self.working_delay(delay))
        returned = self.do(engine.return_result, dossier_id) is not None
        if returned and rng.random() < beh.rating_share:
            scores, weights = zip(*beh.ratings.items(), strict=True)
            self.do(engine.rate, dossier_id, rng.choices(scores, weights)[0])

    def watch(self, dossier_id: int, known_late: bool) -> Process:
        """On the last day the law allows an apology letter (Form 04) in time
        (:func:`onestop.deadlines.apology_deadline` under the dossier's rule set), an officer
        who knows the dossier will be late (a known overrun, or less time left than the
        remaining steps' expected work) issues one. The new date is set by that expected work:
        the remaining steps' mean work from now, in whole working days, at least one."""
        engine, cal = self.engine, self.calendar
        while True:
            d = engine.get(dossier_id)
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
            if known_late or remaining / self.hours_per_day > left:
                days = max(1, math.ceil(remaining / self.hours_per_day))
                new_due = cal.add_working_days(max(d.due_at, now), days)
                self.do(engine.apologise, dossier_id, new_due, "hồ sơ cần thêm thời gian xử lý")
                return
            yield self.env.timeout(self.working_delay(min(left, 0.5) * self.hours_per_day) or 1)

    # -- running ------------------------------------------------------------------------------

    def run(self, progress: Callable[[float], None] | None = None) -> RunResult:
        """Run the replication; ``progress`` gets the share of arrival days done."""
        import time

        t0 = time.perf_counter()
        for rate, pick in self._streams:
            self.env.process(self.arrivals(rate, pick))
        days = self.scenario.days
        with self.engine.batch():
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
        period = Period(self.scenario.start, max(end.date(), self.scenario.start), "simulation")
        report = full_report(self.engine.store, period, ["level"], as_of=end)
        return RunResult(
            seed=self.seed,
            dossiers=self.dossiers,
            commands=self.commands,
            horizon_hours=horizon,
            report=report.as_dict(),
            agencies={a: s.summary(horizon) for a, s in sorted(self.stats.items())},
            wall_seconds=time.perf_counter() - t0,
        )
