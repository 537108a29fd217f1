"""Scenario files (``simulations/*.yaml``): what to simulate, validated with precise errors.

A scenario names the definitions to run on, the period, the arrival volumes and their weekday
and month profiles, the channel mix, staffing per agency, service-time distributions, and
applicant and officer behaviour. Every number a calibration rests on is stated in the file.
"""

from __future__ import annotations

import math
import random
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from onestop._yaml import load_yaml, validate_model


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Distribution(_Model):
    """A positive random duration.

    Attributes:
        kind: ``exponential``, ``lognormal``, ``gamma``, ``triangular`` or ``fixed``.
        mean: Mean (exponential, lognormal, gamma, fixed).
        cv: Coefficient of variation (lognormal, gamma).
        low: Minimum (triangular).
        mode: Most likely value (triangular).
        high: Maximum (triangular).
    """

    kind: Literal["exponential", "lognormal", "gamma", "triangular", "fixed"] = "exponential"
    mean: float | None = Field(default=None, gt=0)
    cv: float = Field(default=1.0, gt=0, le=10)
    low: float | None = Field(default=None, ge=0)
    mode: float | None = Field(default=None, ge=0)
    high: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> Distribution:
        if self.kind == "triangular":
            if None in (self.low, self.mode, self.high):
                raise ValueError("a triangular distribution needs low, mode and high")
            assert self.low is not None and self.mode is not None and self.high is not None
            if not self.low <= self.mode <= self.high:
                raise ValueError("triangular needs low <= mode <= high")
        elif self.mean is None:
            raise ValueError(f"a {self.kind} distribution needs a mean")
        return self

    @property
    def expected(self) -> float:
        """The distribution's mean."""
        if self.kind == "triangular":
            assert self.low is not None and self.mode is not None and self.high is not None
            return (self.low + self.mode + self.high) / 3
        assert self.mean is not None
        return self.mean

    def sample(self, rng: random.Random, scale: float = 1.0) -> float:
        """Draw one value, multiplied by ``scale``."""
        if self.kind == "triangular":
            assert self.low is not None and self.mode is not None and self.high is not None
            return rng.triangular(self.low, self.high, self.mode) * scale
        assert self.mean is not None
        mean = self.mean * scale
        if self.kind == "fixed":
            return mean
        if self.kind == "exponential":
            return rng.expovariate(1 / mean)
        if self.kind == "gamma":
            shape = 1 / self.cv**2
            return rng.gammavariate(shape, mean / shape)
        sigma2 = math.log(1 + self.cv**2)
        return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


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
        scale: Fraction of the volume simulated (rates are intensive: 0.1 gives the same on-time
            rates ten times faster, with wider intervals).
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
    """Officers per agency.

    With ``target_utilisation`` set, each agency gets the fewest officers that keep its expected
    load (arrivals × service time, from the scenario itself) at or below that utilisation, so
    staffing follows volume and ``scale``. Counts in ``by_role`` / ``by_agency`` override it;
    ``default`` applies when no target is set.
    """

    target_utilisation: float | None = Field(default=None, gt=0, le=1)
    default: int = Field(default=2, ge=1, le=10_000)
    by_role: dict[str, int] = Field(default_factory=dict)
    by_agency: dict[str, int] = Field(default_factory=dict)


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
    overrun_rate: dict[str, float] = Field(default_factory=dict)
    overrun_factor: Distribution = Distribution(kind="triangular", low=1.2, mode=1.5, high=3)
    apology: bool = True
    rating_share: float = Field(default=0.0, ge=0, le=1)
    ratings: dict[int, float] = Field(default_factory=lambda: {5: 0.7, 4: 0.25, 3: 0.05})
    collect_delay_days: Distribution = Distribution(kind="triangular", low=0.1, mode=1, high=5)


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
        calendar: ``vietnam`` (working days, office hours) or ``round_the_clock``.
        seed: Base random seed (replication r uses seed + r).
        volume: Arrivals.
        channels: Channel mix.
        staffing: Officers.
        service: Service times.
        behaviour: Applicants and officers.
        targets: Figures the scenario is calibrated to (for the summary's comparison).
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    description: str = ""
    workflows: str = "../workflows"
    unit_set: str | None = None
    start: date
    days: int = Field(ge=1, le=3660)
    drain: bool = True
    calendar: Literal["vietnam", "round_the_clock"] = "vietnam"
    seed: int = 1
    volume: Volume
    channels: Channels = Channels()
    staffing: Staffing = Staffing()
    service: Service = Service()
    behaviour: Behaviour = Behaviour()
    targets: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> tuple[Scenario, Path]:
        """Load a scenario file; returns it and its definitions directory.

        Raises:
            DefinitionError: With the file, key path and reason.
        """
        path = Path(path)
        scenario = validate_model(cls, load_yaml(path), str(path))
        return scenario, (path.parent / scenario.workflows).resolve()
