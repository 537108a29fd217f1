"""A seeded dossier workload driven through the real Engine under a ManualClock.

This is the simple generator behind ``onestop demo``: arrivals per working day split by level,
channel and intake mode, officers who take a random share of each step's budget (sometimes more),
supplement requests, withdrawals, apology letters for dossiers about to be late, returns by post
and satisfaction ratings. It is event-driven (a heap of future actions), so the clock jumps from
one action to the next and every command goes through :class:`onestop.Engine`.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from onestop.catalog import Procedure
from onestop.clock import VN_TZ, ManualClock
from onestop.dossier import Dossier
from onestop.engine import Engine
from onestop.errors import InvalidTransition, NotAllowedHere
from onestop.lifecycle import Status


@dataclass(frozen=True)
class WorkloadSpec:
    """Shape of the generated load.

    Attributes:
        start: First day.
        days: Calendar days to generate arrivals for (processing continues until done).
        dossiers_per_day: Mean arrivals per working day, all levels together.
        level_share: Share of arrivals by level (default: a comparable province's 41/12/47 %).
        online_share: Share submitted online (Can Tho 2024: 69.79 %).
        location_independent_share: Share of eligible dossiers received at another unit.
        postal_return_share: Share of postal-enabled dossiers returned by post.
        supplement_rate: Probability that an agency asks for a supplement.
        withdraw_rate: Probability the applicant withdraws.
        slow_rate: Probability that a step overruns its budget.
        seed: Random seed: the same seed gives the same events.
        drain: Keep processing after the last arrival day until every dossier is done;
            otherwise stop at the end of the period and leave the rest open.
    """

    start: date = date(2024, 3, 1)
    days: int = 30
    dossiers_per_day: float = 150.0
    level_share: dict[str, float] = field(
        default_factory=lambda: {"city": 0.41, "district": 0.12, "commune": 0.47}
    )
    online_share: float = 0.6979
    location_independent_share: float = 0.05
    postal_return_share: float = 0.05
    supplement_rate: float = 0.04
    withdraw_rate: float = 0.005
    slow_rate: float = 0.002
    seed: int = 1
    drain: bool = False


@dataclass
class WorkloadResult:
    """What the run did: counts of dossiers and commands, by kind."""

    dossiers: int = 0
    commands: int = 0
    by_trigger: Counter[str] = field(default_factory=Counter)
    end: datetime | None = None


def run_workload(
    engine: Engine,
    clock: ManualClock,
    spec: WorkloadSpec,
    progress: Callable[[int, int], None] | None = None,
) -> WorkloadResult:
    """Generate the workload and drive it through ``engine``.

    Args:
        engine: The engine (its clock must be ``clock``).
        clock: The manual clock the run advances.
        spec: What to generate.
        progress: Called as ``progress(done, total)`` with arrival days done.

    Returns:
        Counts of what was done.
    """
    rng = random.Random(spec.seed)
    cal = engine.calendar
    units = engine.units
    procs: dict[str, list[Procedure]] = {}
    for proc in engine.catalog.procedures():
        procs.setdefault(proc.level, []).append(proc)
    levels = [lvl for lvl in spec.level_share if lvl in procs]
    weights = [spec.level_share[lvl] for lvl in levels]
    competent = {lvl: [u.code for u in units.units_at(lvl)] for lvl in levels}
    intake_units = [u.code for u in units.all_units]
    result = WorkloadResult()
    queue: list[tuple[datetime, int, int, str]] = []  # (when, tiebreak, dossier id, action)
    tick = 0

    def later(when: datetime, dossier_id: int, action: str) -> None:
        nonlocal tick
        tick += 1
        heapq.heappush(queue, (when, tick, dossier_id, action))

    def do(command: Callable[..., Dossier], *args: object, **kwargs: object) -> Dossier | None:
        try:
            d = command(*args, **kwargs)
        except (InvalidTransition, NotAllowedHere):
            return None
        result.commands += 1
        result.by_trigger[command.__name__] += 1
        return d

    def schedule_step(d: Dossier) -> None:
        proc = engine.catalog.get(d.procedure_code, version=d.procedure_version)
        budget = proc.route.steps[d.step_index].budget
        share = rng.uniform(1.1, 2.5) if rng.random() < spec.slow_rate else rng.betavariate(2, 5)
        when = cal.add_working_days(clock.now(), max(budget * share, 0.01))
        later(when, d.id, "step")

    def arrivals_for(day: date) -> None:
        if not cal.is_working_day(day):
            return
        count = _poisson(rng, spec.dossiers_per_day)
        opening = cal.next_opening(datetime.combine(day, datetime.min.time(), VN_TZ))
        for _ in range(count):
            minutes = rng.uniform(0, 8 * 60)
            later(cal.add_working_days(opening, minutes / 480), 0, "arrive")

    def arrive() -> None:
        level = rng.choices(levels, weights)[0]
        proc = rng.choice(procs[level])
        unit = rng.choice(competent[level])
        online = proc.online != "none" and rng.random() < spec.online_share
        intake = None
        if proc.location_independent and rng.random() < spec.location_independent_share:
            intake = rng.choice(intake_units)
        ret = (
            "post"
            if proc.postal and rng.random() < spec.postal_return_share
            else ("online" if online else "counter")
        )
        d = do(
            engine.receive,
            proc.code,
            unit,
            intake_unit=intake,
            channel="online" if online else "counter",
            return_method=ret,
        )
        if d is None:
            d = do(engine.receive, proc.code, unit, channel="counter", return_method="counter")
        if d is None:
            return
        result.dossiers += 1
        schedule_step(d)

    def act(dossier_id: int, action: str) -> None:
        d = engine.get(dossier_id)
        now = clock.now()
        if action == "step":
            roll = rng.random()
            if roll < spec.withdraw_rate:
                do(engine.withdraw, d.id)
                return
            supplement_at = spec.withdraw_rate + spec.supplement_rate / max(d.step_count, 1)
            if roll < supplement_at and do(engine.request_supplement, d.id, "bổ sung") is not None:
                later(cal.add_working_days(now, rng.uniform(0.5, 5)), d.id, "supplement")
                return
            # An officer about to miss the appointment issues an apology letter (Form 04).
            if d.apologies == 0 and d.due_at is not None and now > d.due_at - timedelta(hours=1):
                new_due = cal.add_working_days(max(now, d.due_at), 3)
                do(engine.apologise, d.id, new_due, "hồ sơ phức tạp, cần xác minh")
                d = engine.get(d.id)
            if d.step_index + 1 < d.step_count:
                d2 = do(engine.complete_step, d.id)
                if d2 is not None:
                    schedule_step(d2)
                return
            if do(engine.resolve, d.id) is not None:
                later(cal.add_working_days(now, rng.uniform(0.1, 2)), d.id, "return")
        elif action == "supplement":
            d2 = do(engine.supplement, d.id)
            if d2 is not None:
                schedule_step(d2)
        elif action == "return":
            if d.return_method == "post" and d.status is Status.RESOLVED:
                do(engine.dispatch_post, d.id)
                later(now + timedelta(days=rng.randint(1, 3)), d.id, "return")
                return
            if do(engine.return_result, d.id) is not None and rng.random() < 0.3:
                do(engine.rate, d.id, rng.choices([5, 4, 3, 2, 1], [70, 25, 3, 1, 1])[0])

    for offset in range(spec.days):
        arrivals_for(spec.start + timedelta(days=offset))
    total = len(queue)
    done = 0
    end = datetime.combine(spec.start + timedelta(days=spec.days), datetime.min.time(), VN_TZ)
    while queue:
        if not spec.drain and queue[0][0] >= end:
            clock.set(max(clock.now(), end))
            break
        when, _, dossier_id, action = heapq.heappop(queue)
        if when > clock.now():
            clock.set(when)
        if action == "arrive":
            arrive()
            done += 1
            if progress is not None and (done % 50 == 0 or done == total):
                progress(done, total)
        else:
            act(dossier_id, action)
    result.end = clock.now()
    return result


def _poisson(rng: random.Random, mean: float) -> int:
    # Normal approximation for large means, exact inversion for small ones.
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
