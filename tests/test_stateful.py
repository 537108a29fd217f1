"""Stateful property testing of the engine against an independent model (hypothesis
RuleBasedStateMachine).

Random valid and invalid commands on random dossiers, with clock jumps across weekends and
holidays and onto the law's edges (opening, lunch, the 15:00 cut-off, closing; a dossier's
intake-check window and due time). Every command is first run on a model written here from the
law, not from onestop's code:

* an oracle of working time: office time is counted day by day over the working days, 07:00-11:00
  and 13:00-17:00 (8 h a day). The only calendar fact taken from onestop is
  ``Calendar.is_working_day``; nothing here calls ``onestop.deadlines``, ``onestop.timeliness``,
  ``onestop.plans``, ``onestop.lifecycle`` or the calendar's arithmetic. It gives the appointment
  date, the shift after a pause, the restart after a lawful supplement, and the timeliness class
  at resolution (rule set "decree-61-2018" defaults; "decree-118-2025" has the same ones);
* a model of which commands each state accepts (status, step, return method, paused-from status,
  apologies, rating, supplement count, arguments), and of which new dossiers are accepted (unit,
  level, location-independent intake, channel, return method).

The engine must accept exactly what the model accepts: a refused command raises one of the typed
errors the model names and changes nothing in the database (``onestop.testing.fingerprint``).
After every command the dossier agrees with the model on status, portal code, step, due time,
clock stop, paused-from status, apologies, supplement count, rating, timeliness and number of
events, and every touched dossier's row equals the replay of its events.

Besides fully random commands, rules aim at what random ones rarely reach: commands the state
allows (so dossiers get to resolution, return and rating), commands it refuses with lawful
arguments (mostly near misses: a step too many, a second apology or rating, a postal result
returned at the desk), receipts at 15:00 +/- 1 s, supplement requests at the end of the
intake-check window +/- 1 s, resolutions around the due time; and after each accepted command one
near miss of the new state is probed. The CI profile runs 100 x 100 = 10,000 steps.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

import hypothesis.strategies as st
import yaml
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from onestop import VN_TZ, Calendar, Engine, ManualClock, OnestopError
from onestop.errors import (
    InvalidTransition,
    NotAllowedHere,
    UnknownDossier,
    UnknownProcedure,
    UnknownUnit,
    ValidationError,
)
from onestop.testing import assert_replays, fingerprint

from .conftest import FIXTURES

CALENDAR = Calendar.vietnam(years=range(2024, 2028))

# -- the working-time oracle -----------------------------------------------------------------------

FIRST_DAY, LAST_DAY = date(2024, 1, 1), date(2027, 12, 31)
#: The one calendar fact reused from onestop: which days are working days.
WORKING_DAYS = frozenset(
    day
    for day in (FIRST_DAY + timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1))
    if CALENDAR.is_working_day(day)
)
OFFICE_HOURS = ((time(7), time(11)), (time(13), time(17)))
WORKING_DAY = timedelta(hours=8)
CUTOFF = time(15)
ONE_DAY = timedelta(days=1)
#: The clock never goes past this (due dates must stay inside the calendar's years).
LIMIT = datetime(2027, 6, 1, tzinfo=VN_TZ)


def at(day: date, clock_time: time) -> datetime:
    """``day`` at ``clock_time`` in Vietnam."""
    return datetime.combine(day, clock_time, VN_TZ)


def is_working(day: date) -> bool:
    assert FIRST_DAY <= day <= LAST_DAY, f"{day} is outside the oracle's calendar"
    return day in WORKING_DAYS


def office_intervals(day: date) -> list[tuple[datetime, datetime]]:
    """The office's open intervals on ``day``, half-open: [07:00, 11:00) and [13:00, 17:00)."""
    return [(at(day, a), at(day, b)) for a, b in OFFICE_HOURS] if is_working(day) else []


def office_time(start: datetime, end: datetime) -> timedelta:
    """Office time from ``start`` to ``end``, counted day by day (zero when ``end`` is earlier)."""
    total = timedelta(0)
    day, last = start.astimezone(VN_TZ).date(), end.astimezone(VN_TZ).date()
    while day <= last:
        for opens, closes in office_intervals(day):
            lo, hi = max(start, opens), min(end, closes)
            if lo < hi:
                total += hi - lo
        day += ONE_DAY
    return total


def add_office_time(start: datetime, amount: timedelta) -> datetime:
    """The first instant by which ``amount`` (> 0) of office time has passed since ``start``.

    A deadline that uses up an interval exactly ends at its closing time (11:00 or 17:00)."""
    assert amount > timedelta(0)
    left, day = amount, start.astimezone(VN_TZ).date()
    while True:
        for opens, closes in office_intervals(day):
            lo = max(start, opens)
            if lo < closes:
                if left <= closes - lo:
                    return lo + left
                left -= closes - lo
        day += ONE_DAY


def next_open(moment: datetime) -> datetime:
    """``moment`` if the office is open then, else the next time it opens."""
    day = moment.astimezone(VN_TZ).date()
    while True:
        for opens, closes in office_intervals(day):
            lo = max(moment, opens)
            if lo < closes:
                return lo
        day += ONE_DAY


def next_working_day(day: date) -> date:
    """The first working day strictly after ``day``."""
    day += ONE_DAY
    while not is_working(day):
        day += ONE_DAY
    return day


def close_of(day: date) -> datetime:
    """17:00 of a working day."""
    assert is_working(day)
    return at(day, OFFICE_HOURS[-1][1])


def after_cutoff(moment: datetime) -> bool:
    """Strictly after 15:00 on a working day."""
    local = moment.astimezone(VN_TZ)
    return is_working(local.date()) and local.time() > CUTOFF


@dataclass(frozen=True)
class Proc:
    """What the law needs to know about a procedure (read from the fixture YAML)."""

    code: str
    level: str
    days: float
    time_unit: str  # working_days | same_day | calendar_days
    online: bool
    postal: bool
    anywhere: bool  # location-independent
    intake_levels: tuple[str, ...] | None
    restart: bool  # supplement_rule: restart
    check_days: float  # intake-check window, working days
    steps: int


def appointment(proc: Proc, received: datetime) -> datetime:
    """The appointment date of a dossier received at ``received``."""
    if proc.time_unit == "same_day":
        if after_cutoff(received):
            return close_of(next_working_day(received.astimezone(VN_TZ).date()))
        return close_of(next_open(received).date())
    if proc.time_unit == "calendar_days":
        # The receipt day (the day the clock starts) is not counted; the last day closes at
        # 17:00, or the next working day does when it is off.
        day = next_open(received).date() + timedelta(days=int(proc.days))
        while not is_working(day):
            day += ONE_DAY
        return close_of(day)
    start = received
    if proc.days <= 1 and after_cutoff(received):
        start = next_open(at(next_working_day(received.astimezone(VN_TZ).date()), time(0)))
    return add_office_time(start, proc.days * WORKING_DAY)


def shift(due: datetime, stopped: datetime, resumed: datetime) -> datetime:
    """``due`` moved later by the office time the clock stood still."""
    still = office_time(stopped, resumed)
    return add_office_time(due, still) if still > timedelta(0) else due


def classify(resolved: datetime, due: datetime, apologised: bool) -> str:
    """Timeliness at resolution."""
    if apologised or resolved > due:
        return "late"
    if resolved.astimezone(VN_TZ).date() < due.astimezone(VN_TZ).date():
        return "early"
    return "on_time"


# -- the fixture catalog, read as data -------------------------------------------------------------


def _load_catalog() -> tuple[dict[str, Proc], dict[str, str]]:
    procs_yaml = yaml.safe_load((FIXTURES / "procedures" / "tiny.yaml").read_text("utf-8"))
    units_yaml = yaml.safe_load((FIXTURES / "units" / "tiny.yaml").read_text("utf-8"))
    procs = {}
    for p in procs_yaml["procedures"]:  # the defaults are the definition format's
        levels = p.get("intake_levels")
        procs[p["code"]] = Proc(
            code=p["code"],
            level=p["level"],
            days=float(p["statutory_days"]),
            time_unit=p.get("time_unit", "working_days"),
            online=p.get("online", "none") != "none",
            postal=bool(p.get("postal", False)),
            anywhere=bool(p.get("location_independent", False)),
            intake_levels=tuple(levels) if levels is not None else None,
            restart=p.get("supplement_rule", "pause") == "restart",
            check_days=float(p.get("intake_check_days", 3)),
            steps=len(p["route"]["steps"]),
        )
    return procs, {u["code"]: u["level"] for u in units_yaml["units"]}


PROCEDURES, UNIT_LEVELS = _load_catalog()
UNITS = [*sorted(UNIT_LEVELS), "NOPE"]
PROC_CODES = [*sorted(PROCEDURES), "NOPE"]

# -- the model of the lifecycle --------------------------------------------------------------------

ACTIVE = frozenset({"received", "processing"})
PAUSED_BY = {
    "request_supplement": "supplement_requested",
    "request_payment": "payment_requested",
    "suspend": "suspended",
}
ANSWERED_BY = {"supplement": "supplement_requested", "pay": "payment_requested",
               "resume": "suspended"}  # fmt: skip
OPEN = ACTIVE | frozenset(PAUSED_BY.values())
PORTAL = {"submitted": 1, "received": 2, "refused": 3, "processing": 4, "supplement_requested": 5,
          "payment_requested": 6, "withdrawn": 7, "suspended": 8, "resolved": 9, "dispatched": 9,
          "returned": 10}  # fmt: skip
TRIGGERS = ["complete_step", "request_supplement", "supplement", "request_payment", "pay",
            "suspend", "resume", "withdraw", "resolve", "apologise", "dispatch_post",
            "return_result", "rate", "refuse", "receive_submitted"]  # fmt: skip
MAX_APOLOGIES = 1
STOPPING_SUPPLEMENT_REQUESTS = 1


@dataclass(frozen=True)
class Model:
    """What the law says a dossier is."""

    proc: Proc
    status: str
    return_method: str
    step: int = 0
    received_at: datetime | None = None
    due: datetime | None = None
    stopped_at: datetime | None = None  # when the deadline clock stopped; None while it runs
    paused_from: str | None = None
    apologies: int = 0
    supplements: int = 0
    rating: int | None = None
    timeliness: str | None = None
    events: int = 1


@dataclass(frozen=True)
class Refused:
    """A refusal, with the typed errors the law allows the engine to raise for it."""

    errors: tuple[type[OnestopError], ...]


@dataclass(frozen=True)
class Cmd:
    """One command on an existing dossier, with the arguments drawn for it."""

    name: str
    n: int = 1  # payment amount / 10,000; rating; apology offset
    flag: bool = False  # extra reason on a supplement request; paid online; approved
    new_due: datetime | None = None  # apology letters


def receipt(m: Model, now: datetime) -> Model:
    return replace(m, status="received", received_at=now, due=appointment(m.proc, now))


def transition_allowed(m: Model, name: str) -> bool:
    """Whether the dossier's state allows the command (arguments aside)."""
    s = m.status
    if name in ("receive_submitted", "refuse"):
        return s == "submitted"
    if name == "complete_step":
        return s in ACTIVE and m.step + 1 < m.proc.steps
    if name in PAUSED_BY:
        return s in ACTIVE
    if name in ANSWERED_BY:
        return s == ANSWERED_BY[name]
    if name == "withdraw":
        return s in OPEN or s == "submitted"
    if name == "resolve":
        return s in ACTIVE and m.step + 1 == m.proc.steps
    if name == "apologise":
        return s in OPEN and m.apologies < MAX_APOLOGIES
    if name == "dispatch_post":
        return s == "resolved" and m.return_method == "post"
    if name == "return_result":
        return (s == "resolved" and m.return_method != "post") or s == "dispatched"
    if name == "rate":
        return s == "returned" and m.rating is None
    raise AssertionError(name)


def near_misses(m: Model) -> list[str]:
    """Commands refused in this state by a condition rather than by the status alone: the one
    step too many, the second apology or rating, the wrong answer to a pause, returning a
    postal result at the desk."""
    s = m.status
    misses = []
    if s in ACTIVE:
        misses.append("complete_step" if m.step + 1 == m.proc.steps else "resolve")
    if s in OPEN and m.apologies >= MAX_APOLOGIES:
        misses.append("apologise")
    misses += [answer for answer, paused in ANSWERED_BY.items() if s in OPEN and paused != s]
    if s == "resolved":
        misses.append("return_result" if m.return_method == "post" else "dispatch_post")
    if s == "dispatched":
        misses.append("dispatch_post")
    if s == "returned" and m.rating is not None:
        misses.append("rate")
    return misses


def predict(m: Model, cmd: Cmd, now: datetime) -> Model | Refused:
    """The dossier after ``cmd`` at ``now``, or the refusal."""
    errors: list[type[OnestopError]] = []
    if cmd.name == "request_payment" and cmd.n < 0:
        errors.append(ValidationError)  # a negative amount
    if cmd.name == "rate" and not 1 <= cmd.n <= 5:
        errors.append(ValidationError)
    if not transition_allowed(m, cmd.name):
        errors.append(InvalidTransition)
    elif cmd.name == "apologise":
        assert cmd.new_due is not None and m.due is not None
        if cmd.new_due <= now or cmd.new_due <= m.due:
            errors.append(ValidationError)  # the new date must be in the future and later
    elif (
        cmd.name == "request_supplement"
        and m.supplements >= STOPPING_SUPPLEMENT_REQUESTS
        and not cmd.flag
    ):
        errors.append(ValidationError)  # a further request needs its reason
    if errors:
        return Refused(tuple(errors))
    m = replace(m, events=m.events + 1)
    name = cmd.name
    if name == "receive_submitted":
        return receipt(m, now)
    if name == "refuse":
        return replace(m, status="refused")
    if name == "withdraw":
        return replace(m, status="withdrawn")
    if name == "complete_step":
        return replace(m, status="processing", step=m.step + 1)
    if name in PAUSED_BY:
        stops = name != "request_supplement" or m.supplements < STOPPING_SUPPLEMENT_REQUESTS
        m = replace(m, status=PAUSED_BY[name], paused_from=m.status,
                    stopped_at=now if stops else None)  # fmt: skip
        if name == "request_supplement":
            m = replace(m, supplements=m.supplements + 1)
        return m
    if name in ANSWERED_BY:
        assert m.paused_from is not None and m.received_at is not None and m.due is not None
        due = m.due
        stopped = m.stopped_at
        if (
            name == "supplement"
            and m.proc.restart
            and stopped is not None
            and stopped <= add_office_time(m.received_at, m.proc.check_days * WORKING_DAY)
            and stopped <= m.due
        ):
            due = appointment(m.proc, now)  # the full statutory time again, from now
        elif stopped is not None:
            due = shift(m.due, stopped, now)
        return replace(m, status=m.paused_from, paused_from=None, stopped_at=None, due=due)
    if name == "resolve":
        assert m.due is not None
        return replace(m, status="resolved", timeliness=classify(now, m.due, m.apologies > 0))
    if name == "apologise":
        return replace(m, due=cmd.new_due, apologies=m.apologies + 1)
    if name == "dispatch_post":
        return replace(m, status="dispatched")
    if name == "return_result":
        return replace(m, status="returned")
    if name == "rate":
        return replace(m, rating=cmd.n)
    raise AssertionError(name)


def intake_refusal(code: str, unit: str, intake: str, channel: str, ret: str) -> Refused | None:
    """Why a new dossier (online submission or receipt at a desk) is refused, if it is."""
    proc = PROCEDURES.get(code)
    if proc is None:
        return Refused((UnknownProcedure,))
    errors: list[type[OnestopError]] = []
    for u in (unit, intake):
        if u not in UNIT_LEVELS:
            errors.append(UnknownUnit)
    if unit in UNIT_LEVELS and UNIT_LEVELS[unit] != proc.level:
        errors.append(ValidationError)  # the competent unit is at the procedure's level
    if intake in UNIT_LEVELS and intake != unit:  # location-independent, at an allowed level
        levels = proc.intake_levels
        if not proc.anywhere or (levels is not None and UNIT_LEVELS[intake] not in levels):
            errors.append(NotAllowedHere)
    if channel == "online" and not proc.online:
        errors.append(NotAllowedHere)
    if (channel == "postal" or ret == "post") and not proc.postal:
        errors.append(NotAllowedHere)
    return Refused(tuple(errors)) if errors else None


@dataclass(frozen=True)
class Intake:
    """A new dossier's arguments: ``submit_online`` when ``online_first``, else ``receive``."""

    proc: str
    unit: str
    elsewhere: str | None  # the intake unit when not the competent one
    channel: str
    ret: str
    online_first: bool

    @property
    def intake(self) -> str:
        return self.unit if self.online_first or self.elsewhere is None else self.elsewhere

    def predict(self, now: datetime) -> Model | Refused:
        channel = "online" if self.online_first else self.channel
        refused = intake_refusal(self.proc, self.unit, self.intake, channel, self.ret)
        if refused is not None:
            return refused
        m = Model(proc=PROCEDURES[self.proc], status="submitted", return_method=self.ret)
        return m if self.online_first else receipt(m, now)


def lawful_intakes(code: str) -> list[Intake]:
    """Every new dossier of ``code`` the law accepts (to drive dossiers that go somewhere)."""
    found = []
    for unit in UNIT_LEVELS:
        for ret in ("counter", "online", "post"):
            candidates = [Intake(code, unit, None, "online", ret, True)]
            for elsewhere in (None, *UNIT_LEVELS):
                for channel in ("counter", "online", "postal"):
                    candidates.append(Intake(code, unit, elsewhere, channel, ret, False))
            found += [i for i in candidates if not isinstance(i.predict(LIMIT), Refused)]
    return found


LAWFUL_INTAKES = {code: lawful_intakes(code) for code in PROCEDURES}


# -- the state machine -----------------------------------------------------------------------------


def engine_call(engine: Engine, d: int, cmd: Cmd, now: datetime) -> Callable[[], object]:
    """The engine command ``cmd`` on dossier ``d``, ready to run."""
    n, flag = cmd.n, cmd.flag
    calls: dict[str, Callable[[], object]] = {
        "complete_step": lambda: engine.complete_step(d),
        "request_supplement": lambda: engine.request_supplement(
            d, "thiếu giấy tờ", extra_reason="phát sinh" if flag else None
        ),
        "supplement": lambda: engine.supplement(d),
        "request_payment": lambda: engine.request_payment(d, n * 10_000),
        "pay": lambda: engine.pay(d, online=flag),
        "suspend": lambda: engine.suspend(d, "tạm dừng"),
        "resume": lambda: engine.resume(d),
        "withdraw": lambda: engine.withdraw(d),
        "resolve": lambda: engine.resolve(d, outcome="approved" if flag else "denied"),
        "apologise": lambda: engine.apologise(d, cmd.new_due or now, "chậm"),
        "dispatch_post": lambda: engine.dispatch_post(d),
        "return_result": lambda: engine.return_result(d),
        "rate": lambda: engine.rate(d, n),
        "refuse": lambda: engine.refuse(d, "không đủ điều kiện"),
        "receive_submitted": lambda: engine.receive_submitted(d),
    }
    return calls[cmd.name]


EDGE_TIMES = [time(0), time(6, 59, 59), time(7), time(10, 59, 59), time(11), time(12),
              time(13), time(14, 59, 59), time(15), time(15, 0, 1), time(16, 59, 59), time(17),
              time(17, 0, 1), time(23, 59, 59)]  # fmt: skip

CUTOFF_TIMES = [time(14, 59, 59), time(15), time(15, 0, 1)]
#: Procedures whose appointment depends on the 15:00 cut-off (same-day, or at most one day).
CUTOFF_SENSITIVE = sorted(
    code for code, proc in PROCEDURES.items() if proc.time_unit == "same_day" or proc.days <= 1
)
#: Dossiers per example: enough to interleave, few enough for each to go a long way.
MAX_DOSSIERS = 8
#: Commands that move a dossier on, that pause or reset it, that end it without a result.
PROGRESS = frozenset({"receive_submitted", "complete_step", "resolve", "dispatch_post",
                      "return_result", "rate", "supplement", "pay", "resume"})  # fmt: skip
SIDE = frozenset({"request_supplement", "request_payment", "suspend", "apologise"})
ENDINGS = frozenset({"withdraw", "refuse"})

#: Steps checked, across every example (read by whoever wants the figure).
STEPS_CHECKED = [0]


def few_dossiers(machine: EngineMachine) -> bool:
    return len(machine.models) < MAX_DOSSIERS


class EngineMachine(RuleBasedStateMachine):
    dossiers: Bundle[int] = Bundle("dossiers")

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(datetime(2025, 1, 20, 8, 0, tzinfo=VN_TZ))
        self.engine = Engine.open("sqlite://", FIXTURES, clock=self.clock, calendar=CALENDAR)
        self.models: dict[int, Model] = {}
        self.touched: set[int] = set()

    def teardown(self) -> None:
        self.engine.store.dispose()

    # -- running a command on the engine and the model ---------------------------------------------

    def expect_refusal(self, refused: Refused, run: Callable[[], object], what: str) -> None:
        before = fingerprint(self.engine)
        try:
            run()
        except OnestopError as exc:
            assert isinstance(exc, refused.errors), (
                f"{what}: refused with {type(exc).__name__} ({exc}), "
                f"the law expects {[e.__name__ for e in refused.errors]}"
            )
        else:
            raise AssertionError(f"{what}: accepted, the law refuses it {refused}")
        assert fingerprint(self.engine) == before, f"{what}: a refusal changed the database"

    def run(self, dossier_id: int, cmd: Cmd) -> None:
        now = self.clock.now()
        call = engine_call(self.engine, dossier_id, cmd, now)
        model = self.models[dossier_id]
        outcome = predict(model, cmd, now)
        what = f"{cmd} on dossier {dossier_id} ({model}) at {now.isoformat()}"
        if isinstance(outcome, Refused):
            self.expect_refusal(outcome, call, what)
        else:
            try:
                call()
            except OnestopError as exc:
                raise AssertionError(f"{what}: refused ({exc!r}), the law accepts it") from exc
            self.models[dossier_id] = outcome
            self.probe_near_miss(dossier_id)
        self.touched.add(dossier_id)
        self.check(dossier_id, what)

    def lawful_args(self, dossier_id: int, name: str, k: int) -> Cmd:
        """``name`` with arguments the law accepts (so only the state can refuse it)."""
        m, now = self.models[dossier_id], self.clock.now()
        later = max(now, m.due or now) + timedelta(days=1 + k % 3)
        return Cmd(name, n=1 + k % 5, flag=True, new_due=later)

    def probe_near_miss(self, dossier_id: int) -> None:
        """After a change of state, one command the new state refuses by a condition (see
        :func:`near_misses`): it must be refused with InvalidTransition and change nothing."""
        m = self.models[dossier_id]
        misses = near_misses(m)
        if misses:
            cmd = self.lawful_args(dossier_id, misses[m.events % len(misses)], m.events)
            now = self.clock.now()
            outcome = predict(m, cmd, now)
            assert outcome == Refused((InvalidTransition,)), (cmd, m)
            what = f"{cmd} on dossier {dossier_id} ({m}) at {now.isoformat()}"
            self.expect_refusal(outcome, engine_call(self.engine, dossier_id, cmd, now), what)

    def make_cmd(self, dossier_id: int, name: str, n: int, flag: bool, from_due: bool) -> Cmd:
        new_due = None
        if name == "apologise":
            due = self.models[dossier_id].due
            now = self.clock.now()
            new_due = due + timedelta(hours=n) if from_due and due else now + timedelta(days=n)
        return Cmd(name, n, flag, new_due)

    def check(self, dossier_id: int, what: str = "") -> None:
        """The engine's dossier agrees with the model."""
        m, d = self.models[dossier_id], self.engine.get(dossier_id)
        got = {
            "status": d.status.value,
            "status_code": d.status_code,
            "step": d.step_index,
            "due": d.due_at,
            "apologies": d.apologies,
            "supplements": d.supplements_requested,
            "rating": d.rating,
            "timeliness": d.timeliness.value if d.timeliness else None,
            "events": len(self.engine.history(dossier_id)),
        }
        want = {
            "status": m.status,
            "status_code": PORTAL[m.status],
            "step": m.step,
            "due": m.due,
            "apologies": m.apologies,
            "supplements": m.supplements,
            "rating": m.rating,
            "timeliness": m.timeliness,
            "events": m.events,
        }
        if m.status in OPEN:  # the clock stop and the status to go back to
            got.update(stopped_at=d.paused_at, paused_from=d.paused_from)
            want.update(stopped_at=m.stopped_at, paused_from=m.paused_from)
        diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
        assert not diff, f"engine != law (engine, law) {diff} after {what or 'the last step'}"

    # -- new dossiers ------------------------------------------------------------------------------

    def new(self, i: Intake) -> MultipleResults[int]:
        """Run a new-dossier command on the engine and the model."""
        outcome = i.predict(self.clock.now())

        def run() -> int:
            if i.online_first:
                return self.engine.submit_online(i.proc, i.unit, return_method=i.ret).id
            return self.engine.receive(
                i.proc, i.unit, intake_unit=i.elsewhere, channel=i.channel, return_method=i.ret
            ).id

        what = f"{i} at {self.clock.now().isoformat()}"
        if isinstance(outcome, Refused):
            self.expect_refusal(outcome, run, what)
            return multiple()
        try:
            dossier_id = run()
        except OnestopError as exc:
            raise AssertionError(f"{what}: refused ({exc!r}), the law accepts it") from exc
        self.models[dossier_id] = outcome
        self.touched.add(dossier_id)
        self.check(dossier_id, what)
        return multiple(dossier_id)

    # -- rules -------------------------------------------------------------------------------------

    @precondition(few_dossiers)
    @rule(
        target=dossiers,
        proc=st.sampled_from(PROC_CODES),
        pick=st.integers(0, 10),
        channel=st.sampled_from(["counter", "online", "postal"]),
        ret=st.sampled_from(["counter", "online", "post"]),
        elsewhere=st.sampled_from([None, "W1", "D2", "C", "NOPE"]),
        online_first=st.booleans(),
    )
    def new_dossier(
        self, proc: str, pick: int, channel: str, ret: str, elsewhere: str | None,
        online_first: bool,
    ) -> MultipleResults[int]:  # fmt: skip
        """Any new dossier: often refused (unknown or wrong unit, channel, return method)."""
        units = [u for u, level in UNIT_LEVELS.items() if proc in PROCEDURES
                 and level == PROCEDURES[proc].level]  # fmt: skip
        unit = units[pick % len(units)] if pick < 9 and units else UNITS[pick % len(UNITS)]
        return self.new(Intake(proc, unit, elsewhere, channel, ret, online_first))

    @precondition(few_dossiers)
    @rule(target=dossiers, proc=st.sampled_from(sorted(PROCEDURES)), k=st.integers(0, 10**6),
          edge=st.none() | st.sampled_from(CUTOFF_TIMES) | st.sampled_from(EDGE_TIMES),
          days=st.integers(0, 3))  # fmt: skip
    def lawful_dossier(
        self, proc: str, k: int, edge: time | None, days: int
    ) -> MultipleResults[int]:
        """A new dossier the law accepts, now or at an edge of the office day."""
        if edge is not None:
            target = at(self.clock.now().date() + timedelta(days=days), edge)
            if self.clock.now() < target < LIMIT:
                self.clock.set(target)
        intakes = LAWFUL_INTAKES[proc]
        return self.new(intakes[k % len(intakes)])

    @precondition(few_dossiers)
    @rule(target=dossiers, proc=st.sampled_from([*CUTOFF_SENSITIVE, *sorted(PROCEDURES)]),
          k=st.integers(0, 10**6), seconds=st.sampled_from([-1, 0, 1]))  # fmt: skip
    def new_dossier_at_cutoff(self, proc: str, k: int, seconds: int) -> MultipleResults[int]:
        """A new dossier the law accepts, a second before, at or after 15:00 on the next
        working day whose 15:00 is still to come."""
        day = self.clock.now().date()
        while not is_working(day) or at(day, CUTOFF) <= self.clock.now():
            day += ONE_DAY
        target = at(day, CUTOFF) + timedelta(seconds=seconds)
        if self.clock.now() < target < LIMIT:
            self.clock.set(target)
        intakes = LAWFUL_INTAKES[proc]
        return self.new(intakes[k % len(intakes)])

    @precondition(few_dossiers)
    @rule(target=dossiers, k=st.integers(0, 10**6), seconds=st.sampled_from([-1, 0, 1]),
          minutes=st.integers(0, 60 * 24 * 8))  # fmt: skip
    def supplement_at_window_end(self, k: int, seconds: int, minutes: int) -> MultipleResults[int]:
        """A dossier of a ``restart`` procedure received now, a supplement request a second
        before, at or after the end of its intake-check window, and the supplement."""
        restart = sorted(code for code, proc in PROCEDURES.items() if proc.restart)
        intakes = [i for i in LAWFUL_INTAKES[restart[k % len(restart)]] if not i.online_first]
        created = self.new(intakes[k % len(intakes)])
        (dossier,) = created.values
        m = self.models[dossier]
        assert m.received_at is not None
        end = add_office_time(m.received_at, m.proc.check_days * WORKING_DAY)
        target = end + timedelta(seconds=seconds)
        if target < LIMIT:
            self.clock.set(target)
            self.run(dossier, Cmd("request_supplement"))
            self.time_passes(minutes, 0, None)
            self.run(dossier, Cmd("supplement"))
        return created

    @rule(dossier=dossiers, name=st.sampled_from(TRIGGERS), n=st.integers(-3, 8),
          flag=st.booleans(), from_due=st.booleans())  # fmt: skip
    def command(self, dossier: int, name: str, n: int, flag: bool, from_due: bool) -> None:
        """Any command: mostly refused."""
        self.run(dossier, self.make_cmd(dossier, name, n, flag, from_due))

    def lawful(self, dossier: int, k: int, n: int, flag: bool, from_due: bool) -> None:
        """Run a command the dossier's state allows (its arguments may still be refused):
        mostly one that moves it on (to resolution, return and rating), sometimes a pause or an
        apology, rarely a withdrawal or refusal."""
        allowed = [t for t in TRIGGERS if transition_allowed(self.models[dossier], t)]
        kind = PROGRESS if k < 60 else ENDINGS if k >= 95 else SIDE
        chosen = [t for t in allowed if t in kind] or allowed
        if chosen:
            self.run(dossier, self.make_cmd(dossier, chosen[k % len(chosen)], n, flag, from_due))

    @rule(dossier=dossiers, k=st.integers(0, 99), n=st.integers(-3, 8), flag=st.booleans(),
          from_due=st.booleans())  # fmt: skip
    def lawful_command(self, dossier: int, k: int, n: int, flag: bool, from_due: bool) -> None:
        """A command the dossier's state allows, now."""
        self.lawful(dossier, k, n, flag, from_due)

    @rule(dossier=dossiers, k=st.integers(0, 99))
    def unlawful_command(self, dossier: int, k: int) -> None:
        """A command the dossier's state does not allow, with arguments the law accepts (so
        the refusal must be InvalidTransition); mostly a near miss."""
        m = self.models[dossier]
        refused = [t for t in TRIGGERS if not transition_allowed(m, t)]
        misses = near_misses(m)
        choice = misses if misses and k < 70 else refused
        self.run(dossier, self.lawful_args(dossier, choice[k % len(choice)], k))

    @rule(dossier=dossiers, edge=st.sampled_from(["window", "due", "due_day"]),
          seconds=st.sampled_from([-60, -1, 0, 1, 60]), k=st.integers(0, 99),
          n=st.integers(-3, 8), flag=st.booleans(), from_due=st.booleans())  # fmt: skip
    def lawful_command_at_edge(
        self, dossier: int, edge: str, seconds: int, k: int, n: int, flag: bool, from_due: bool
    ) -> None:
        """A command the dossier's state allows, at (or a second or a minute around) one of its
        edges: the end of its restart window, its due time, the start of its due day."""
        m = self.models[dossier]
        if edge == "window" and m.received_at is not None:
            target = add_office_time(m.received_at, m.proc.check_days * WORKING_DAY)
        elif edge == "due" and m.due is not None:
            target = m.due
        elif edge == "due_day" and m.due is not None:
            target = at(m.due.astimezone(VN_TZ).date(), time(0))
        else:
            return
        target += timedelta(seconds=seconds)
        if self.clock.now() < target < LIMIT:
            self.clock.set(target)
            self.lawful(dossier, k, n, flag, from_due)

    @rule(dossier=dossiers, request=st.sampled_from(sorted(PAUSED_BY)), at_window=st.booleans(),
          seconds=st.sampled_from([-60, -1, 0, 1, 60]), minutes=st.integers(0, 60 * 24 * 8),
          flag=st.booleans())  # fmt: skip
    def pause_round(
        self, dossier: int, request: str, at_window: bool, seconds: int, minutes: int,
        flag: bool,
    ) -> None:  # fmt: skip
        """A supplement or payment request or a suspension (optionally a second or a minute
        around the end of the restart window), time passing, and the answer: first, second and
        later supplement requests, restarts and shifts."""
        m = self.models[dossier]
        if m.status not in ACTIVE:
            return
        if at_window and m.received_at is not None:
            end = add_office_time(m.received_at, m.proc.check_days * WORKING_DAY)
            target = end + timedelta(seconds=seconds)
            if self.clock.now() < target < LIMIT:
                self.clock.set(target)
        self.run(dossier, Cmd(request, n=5, flag=flag))
        self.time_passes(minutes, 0, None)
        answer = {paused: name for name, paused in ANSWERED_BY.items()}[PAUSED_BY[request]]
        self.run(dossier, Cmd(answer, flag=flag))

    @rule(k=st.integers(0, 10**6), day_start=st.booleans(),
          seconds=st.just(0) | st.sampled_from([-86_400, -60, -1, 1, 60]),
          flag=st.booleans())  # fmt: skip
    def resolve_around_due(self, k: int, day_start: bool, seconds: int, flag: bool) -> None:
        """Take an active dossier that is not yet due to its last step, then resolve it around
        its due time (or the start of its due day): early, on time and late at their
        boundaries."""
        now = self.clock.now()
        candidates = [d for d, m in sorted(self.models.items())
                      if m.status in ACTIVE and m.due is not None and now < m.due]  # fmt: skip
        if not candidates:
            return
        dossier = candidates[k % len(candidates)]
        while transition_allowed(self.models[dossier], "complete_step"):
            self.run(dossier, Cmd("complete_step"))
        due = self.models[dossier].due
        assert due is not None
        target = (at(due.astimezone(VN_TZ).date(), time(0)) if day_start else due) + timedelta(
            seconds=seconds
        )
        if self.clock.now() < target < LIMIT:
            self.clock.set(target)
        self.run(dossier, Cmd("resolve", flag=flag))

    @rule(
        minutes=st.integers(1, 60 * 8) | st.integers(1, 60 * 24 * 12),
        days=st.integers(0, 3),
        clock_time=st.none() | st.sampled_from(EDGE_TIMES),
    )
    def time_passes(self, minutes: int, days: int, clock_time: time | None) -> None:
        """Minutes to days pass, or the clock goes to an edge of the office day (opening,
        lunch, the cut-off, closing) today or in a few days."""
        if clock_time is None:
            target = self.clock.now() + timedelta(minutes=minutes)
        else:
            target = at(self.clock.now().date() + timedelta(days=days), clock_time)
        if self.clock.now() < target < LIMIT:
            self.clock.set(target)

    @initialize(name=st.sampled_from(TRIGGERS), n=st.integers(1, 5), flag=st.booleans())
    def command_on_missing_dossier(self, name: str, n: int, flag: bool) -> None:
        now = self.clock.now()
        cmd = Cmd(name, n, flag, now + timedelta(days=n))
        missing = 10**9
        self.expect_refusal(
            Refused((UnknownDossier,)), engine_call(self.engine, missing, cmd, now), f"{cmd}"
        )

    @invariant()
    def dossiers_are_consistent(self) -> None:
        STEPS_CHECKED[0] += 1
        for dossier_id in self.touched:
            assert_replays(self.engine, dossier_id)
            self.check(dossier_id)
        self.touched.clear()


EngineMachine.TestCase.settings = settings(
    # The loaded profile's examples (tests/conftest.py: ci gives 100 × 100 = 10,000 steps).
    max_examples=int(os.environ.get("ONESTOP_STATEFUL_EXAMPLES", settings().max_examples)),
    stateful_step_count=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngineStateful = EngineMachine.TestCase


# -- the oracle by hand, and known edges through the machine ---------------------------------------


def dt(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=VN_TZ)


def test_oracle_by_hand() -> None:
    """The oracle against values worked out on paper (Tết 2025: 27 January to 1 February off)."""
    assert office_time(dt(2025, 3, 3, 10), dt(2025, 3, 3, 14)) == timedelta(hours=2)
    assert office_time(dt(2025, 3, 7, 16), dt(2025, 3, 10, 8)) == timedelta(hours=2)
    assert office_time(dt(2025, 3, 8, 9), dt(2025, 3, 9, 16)) == timedelta(0)  # weekend
    assert add_office_time(dt(2025, 3, 3, 7), timedelta(hours=4)) == dt(2025, 3, 3, 11)
    assert add_office_time(dt(2025, 3, 3, 13), WORKING_DAY) == dt(2025, 3, 4, 11)
    assert add_office_time(dt(2025, 3, 3, 12), timedelta(hours=1)) == dt(2025, 3, 3, 14)
    assert add_office_time(dt(2025, 1, 24, 9), 3 * WORKING_DAY) == dt(2025, 2, 5, 9)
    copy, build, land = PROCEDURES["COPY"], PROCEDURES["BUILD"], PROCEDURES["LAND"]
    for received, due in [
        (dt(2025, 3, 4, 6), dt(2025, 3, 4, 17)),
        (dt(2025, 3, 4, 15), dt(2025, 3, 4, 17)),  # 15:00 itself is not after the cut-off
        (dt(2025, 3, 4, 15, 0, 1), dt(2025, 3, 5, 17)),
        (dt(2025, 3, 4, 18), dt(2025, 3, 5, 17)),
        (dt(2025, 3, 7, 15, 30), dt(2025, 3, 10, 17)),  # Friday late: Monday
        (dt(2025, 3, 8, 16), dt(2025, 3, 10, 17)),  # Saturday: the next working day
        (dt(2025, 1, 24, 15, 30), dt(2025, 2, 3, 17)),  # last day before Tết, late
    ]:
        assert appointment(copy, received) == due, received
    assert appointment(build, dt(2025, 3, 3, 9)) == dt(2025, 3, 18, 17)
    assert appointment(build, dt(2025, 3, 14, 9)) == dt(2025, 3, 31, 17)  # Sat 29 -> Mon 31
    assert appointment(build, dt(2025, 1, 24, 9)) == dt(2025, 2, 10, 17)  # Sat 8 -> Mon 10
    assert appointment(land, dt(2025, 3, 3, 9)) == dt(2025, 3, 17, 9)
    assert appointment(land, dt(2025, 3, 3, 17)) == dt(2025, 3, 17, 17)
    assert shift(dt(2025, 3, 17, 9), dt(2025, 3, 7, 16), dt(2025, 3, 10, 8)) == dt(2025, 3, 17, 11)
    due = dt(2025, 2, 5, 9)
    assert classify(dt(2025, 2, 4, 16), due, False) == "early"
    assert classify(dt(2025, 2, 5, 8), due, False) == "on_time"
    assert classify(due, due, False) == "on_time"
    assert classify(dt(2025, 2, 5, 9, 0, 1), due, False) == "late"
    assert classify(dt(2025, 2, 4, 16), due, True) == "late"


def _receive(machine: EngineMachine, proc: str) -> int:
    """Receive ``proc`` at the desk of its first competent unit (W1, D1 or C)."""
    result = machine.new_dossier(proc, 0, "counter", "counter", None, False)
    assert isinstance(result, MultipleResults)
    (dossier_id,) = result.values
    return dossier_id


def test_known_edges_through_the_engine() -> None:
    """Edges of the law run through the machine (each step compares engine and oracle), with
    the oracle's values pinned by hand."""
    m = EngineMachine()
    try:
        m.clock.set(dt(2025, 3, 4, 15))
        at_cutoff = _receive(m, "COPY")
        m.clock.set(dt(2025, 3, 4, 15, 0, 1))
        after = _receive(m, "COPY")
        assert m.models[at_cutoff].due == dt(2025, 3, 4, 17)
        assert m.models[after].due == dt(2025, 3, 5, 17)
        m.clock.set(dt(2025, 3, 5, 17))
        m.run(after, Cmd("resolve", flag=True))  # exactly at the due time: on time
        m.run(at_cutoff, Cmd("resolve", flag=True))  # after it: late
        assert m.models[after].timeliness == "on_time"
        assert m.models[at_cutoff].timeliness == "late"
        m.run(after, Cmd("rate", n=6))
        m.run(after, Cmd("return_result"))
        m.run(after, Cmd("rate", n=5))
        m.run(after, Cmd("rate", n=4))  # once only

        # LAND received Monday 10 March 09:00: restart window ends Thursday 13 March 09:00.
        m.clock.set(dt(2025, 3, 10, 9))
        inside, outside = _receive(m, "LAND"), _receive(m, "LAND")
        m.clock.set(dt(2025, 3, 13, 9))
        m.run(inside, Cmd("request_supplement"))
        m.run(inside, Cmd("apologise", new_due=dt(2025, 3, 24, 9)))  # not later: refused
        m.clock.set(dt(2025, 3, 13, 9, 0, 1))
        m.run(outside, Cmd("request_supplement"))
        m.clock.set(dt(2025, 3, 17, 9))
        m.run(inside, Cmd("supplement"))
        m.run(outside, Cmd("supplement"))
        assert m.models[inside].due == dt(2025, 3, 31, 9)  # ten working days from now
        # Moved by the office time stopped: two working days less one second.
        assert m.models[outside].due == dt(2025, 3, 26, 8, 59, 59)
        m.run(outside, Cmd("request_supplement"))  # a second request needs a reason
        m.run(outside, Cmd("request_supplement", flag=True))  # and does not stop the clock
        m.clock.set(dt(2025, 3, 20, 9))
        m.run(outside, Cmd("supplement"))
        assert m.models[outside].due == dt(2025, 3, 26, 8, 59, 59)  # the clock ran
        m.run(outside, Cmd("request_payment", n=-1))
        m.run(outside, Cmd("request_payment", n=50))
        m.clock.set(dt(2025, 3, 21, 9))
        m.run(outside, Cmd("pay", flag=True))
        assert m.models[outside].due == dt(2025, 3, 27, 8, 59, 59)  # a day of waiting to pay
        m.run(outside, Cmd("apologise", new_due=dt(2025, 3, 27, 8, 59, 59)))  # not later
        m.run(outside, Cmd("apologise", new_due=dt(2025, 4, 2, 9)))
        m.run(outside, Cmd("apologise", new_due=dt(2025, 4, 3, 9)))  # one letter only
        for _ in range(3):
            m.run(outside, Cmd("complete_step"))
        m.run(outside, Cmd("complete_step"))  # at the last step
        m.run(outside, Cmd("resolve"))
        assert m.models[outside].timeliness == "late"  # apologised, resolved before the date
        m.dossiers_are_consistent()
    finally:
        m.teardown()
