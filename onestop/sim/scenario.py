"""Scenario files (``simulations/*.yaml``): what to simulate, validated with precise errors.

A scenario names the definitions to run on, the period, the arrival volumes and their weekday
and month profiles, the channel mix, staffing per agency, service-time distributions, and
applicant and officer behaviour. Every number a calibration rests on is stated in the file.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from onestop._yaml import load_yaml, validate_model
from onestop.sim.distribution import Distribution
from onestop.sim.feedback_arrivals import FeedbackArrivals
from onestop.sim.mechanisms import Mechanisms

__all__ = ["Distribution", "Mechanisms", "Scenario"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Arrival(_Model):
    """An explicit arrival stream: one procedure at one unit (used by analytic checks)."""

    procedure: str
    unit: str
    per_day: float = Field(gt=0)


class Volume(_Model):
    """Arrival volumes.

    Attributes:
        per_year: Dossiers a year by level (state the basis in ``basis``).
        basis: Where the volumes come from.
        scale: Fraction of the volume simulated: arrivals are thinned, officers are not (see
            :attr:`Scenario.scale_note`), so below 1 queues are shorter than the city's.
        weekday_profile: Relative volume Monday..Sunday.
        month_profile: Relative volume by month number (Tết surge and dip).
        procedure_weights: Relative weight of a procedure code or field within its level.
        arrivals: Explicit streams instead of (or besides) ``per_year``.
    """

    per_year: dict[str, float] = Field(default_factory=dict)
    basis: str = ""
    scale: float = Field(default=1.0, gt=0, le=1)
    weekday_profile: tuple[float, ...] = (1, 1, 1, 1, 1, 1, 1)
    month_profile: dict[int, float] = Field(default_factory=dict)
    procedure_weights: dict[str, float] = Field(default_factory=dict)
    arrivals: tuple[Arrival, ...] = ()

    @model_validator(mode="after")
    def _profiles(self) -> Volume:
        if len(self.weekday_profile) != 7:
            raise ValueError("weekday_profile needs 7 values, Monday to Sunday")
        if any(m not in range(1, 13) for m in self.month_profile):
            raise ValueError("month_profile keys are month numbers 1..12")
        if not self.per_year and not self.arrivals:
            raise ValueError("give per_year volumes or explicit arrivals")
        return self


class Channels(_Model):
    """Channel and intake mix.

    Attributes:
        online: Share of online submissions among procedures offered online.
        postal: Share of postal submissions among procedures offered by post.
        location_independent: Share received at another unit, among eligible procedures.
        post_return: Share returned by post, among procedures offered by post.
    """

    online: float = Field(default=0.0, ge=0, le=1)
    postal: float = Field(default=0.0, ge=0, le=1)
    location_independent: float = Field(default=0.0, ge=0, le=1)
    post_return: float = Field(default=0.0, ge=0, le=1)


class Staffing(_Model):
    """Officers per agency: an input, as a city counts them.

    The stated count of an agency is the first of: ``by_agency[code]``,
    ``by_level[level][role]``, ``by_role[role]``, then ``default``. ``target_utilisation``
    (exploration only, not for calibrated scenarios) instead sizes each agency not counted
    explicitly from its expected load (arrivals × service time) at that utilisation, so staffing
    follows volume and no queue ever responds to it.

    ``factor`` is officers per stated officer (headcounts are not published; the calibration
    fits it): every stated count is multiplied by it and rounded up (:meth:`officers`), and a
    ``target_utilisation`` divided by it (:attr:`sizing_utilisation`).
    """

    factor: float = Field(default=1.0, gt=0, le=100)
    target_utilisation: float | None = Field(default=None, gt=0, le=1)
    default: int = Field(default=2, ge=1, le=10_000)
    by_role: dict[str, int] = Field(default_factory=dict)
    by_level: dict[str, dict[str, int]] = Field(default_factory=dict)
    by_agency: dict[str, int] = Field(default_factory=dict)
    basis: str = ""

    def officers(self, stated: int) -> int:
        """Officers at an agency whose stated count is ``stated``: ``stated × factor`` rounded
        up (2 × 1.5 is 3, not 4 from floating-point noise)."""
        return math.ceil(stated * self.factor - 1e-9)

    @property
    def sizing_utilisation(self) -> float | None:
        """The utilisation agencies are sized at from their load: ``target_utilisation /
        factor`` (at most 1), or ``None`` when they are counted."""
        target = self.target_utilisation
        return None if target is None else min(1.0, target / self.factor)


class Service(_Model):
    """Working hours an officer spends on a step.

    ``share_of_budget`` distributions are in units of the step's budget (1.0 = the whole
    budget); ``hours`` distributions are absolute working hours. Officers work in sessions of
    ``session_hours`` and re-pick the most urgent file between sessions; ``null`` serves each
    step in one piece (a plain M/M/c queue).
    """

    default: Distribution = Distribution(kind="gamma", mean=0.25, cv=0.8)
    by_field: dict[str, Distribution] = Field(default_factory=dict)
    unit: Literal["share_of_budget", "hours"] = "share_of_budget"
    session_hours: float | None = Field(default=1.0, gt=0)


class Behaviour(_Model):
    """Applicant and officer behaviour."""

    supplement_rate: float = Field(default=0.0, ge=0, le=1)
    supplement_delay_days: Distribution = Distribution(kind="triangular", low=0.5, mode=2, high=10)
    withdraw_rate: float = Field(default=0.0, ge=0, le=1)
    payment_delay_days: Distribution = Distribution(kind="triangular", low=0.1, mode=1, high=5)
    paid_online: float = Field(default=0.0, ge=0, le=1)
    apology: bool = True
    rating_share: float = Field(default=0.0, ge=0, le=1)
    ratings: dict[int, float] = Field(default_factory=lambda: {5: 0.7, 4: 0.25, 3: 0.05})
    collect_delay_days: Distribution = Distribution(kind="triangular", low=0.1, mode=1, high=5)


class Reorganisation(_Model):
    """A reorganisation during the run (the 1 July 2025 two-tier reform): at ``at`` the open
    dossiers are transferred by ``mapping`` (:meth:`onestop.Engine.reorganise`), and arrivals,
    channels and staffing switch to the new unit set's (run by
    :mod:`onestop.sim.reorganisation`).

    Attributes:
        at: When it takes effect.
        mapping: The mapping's name (``workflows/units/*mapping*.yaml``).
        unit_set: The unit set from then on.
        volume: Arrivals from then on.
        channels: Channel mix from then on (default: unchanged).
        staffing: Officers of the new unit set's agencies (default: unchanged).
        basis: Where these figures come from.
    """

    at: datetime
    mapping: str
    unit_set: str
    volume: Volume
    channels: Channels | None = None
    staffing: Staffing | None = None
    basis: str = ""


class Scenario(_Model):
    """A simulation scenario.

    Attributes:
        name: Short name.
        description: What question it answers.
        workflows: Definitions directory, relative to the scenario file.
        unit_set: Unit set to run (default: the directory's default).
        start: First day.
        days: Calendar days of arrivals.
        drain: Keep processing after the last arrival until every dossier is done.
        warmup_days: Calendar days at the start left out of every statistic (queues start
            empty); the on-time report then counts dossiers resolved after the warm-up.
        calendar: ``vietnam`` (working days, office hours) or ``round_the_clock``.
        seed: Base random seed (replication r uses seed + r).
        volume: Arrivals.
        channels: Channel mix.
        staffing: Officers.
        service: Service times.
        behaviour: Applicants and officers.
        mechanisms: Where lateness comes from (consultations, site visits, absences, other
            posts, hand-overs, the Tết rush); none by default.
        targets: Figures the scenario is calibrated to (for the summary's comparison).
        reorganisation: A reorganisation during the run (``None``: none).
        feedback: Citizen feedback arrivals (Poisson per unit), handled by the feedback desk.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    description: str = ""
    workflows: str = "../workflows"
    unit_set: str | None = None
    start: date
    days: int = Field(ge=1, le=3660)
    drain: bool = True
    warmup_days: int = Field(default=0, ge=0)
    calendar: Literal["vietnam", "round_the_clock"] = "vietnam"
    seed: int = 1
    volume: Volume
    channels: Channels = Channels()
    staffing: Staffing = Staffing()
    service: Service = Service()
    behaviour: Behaviour = Behaviour()
    mechanisms: Mechanisms = Mechanisms()
    targets: dict[str, float] = Field(default_factory=dict)
    reorganisation: Reorganisation | None = None
    feedback: FeedbackArrivals | None = None

    @model_validator(mode="after")
    def _warmup(self) -> Scenario:
        if self.warmup_days >= self.days:
            raise ValueError(f"warmup_days ({self.warmup_days}) must be less than days")
        return self

    @property
    def scale_note(self) -> str | None:
        """Why this run's rates are not the full-volume city's, or ``None`` at scale 1.

        ``volume.scale`` thins arrivals, not officers: headcounts a scenario states stay as
        given, and agencies sized by ``target_utilisation`` keep at least one officer. Below 1
        officers carry a fraction of their full-volume load, queues are shorter and fewer
        dossiers are late: no integer headcount would keep every agency's queue as it is at
        full volume (an M/M/c wait depends on c, not only on the load per officer). A scaled
        run is a quick look; figures compared with published ones need scale 1.
        """
        scale = self.volume.scale
        if scale >= 1:
            return None
        return (
            f"volume scale {scale:g}: arrivals are thinned, officers are not, so queues are "
            "shorter than at full volume; compare on-time rates and waits with published "
            "figures only at scale 1"
        )

    @classmethod
    def load(cls, path: str | Path) -> tuple[Scenario, Path]:
        """Load a scenario file; returns it and its definitions directory.

        Raises:
            DefinitionError: With the file, key path and reason.
        """
        path = Path(path)
        scenario = validate_model(cls, load_yaml(path), str(path))
        return scenario, (path.parent / scenario.workflows).resolve()
