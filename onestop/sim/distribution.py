"""A positive random duration, as scenario files describe it."""

from __future__ import annotations

import math
import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
