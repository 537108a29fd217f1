"""Confidence intervals the simulator reports: Student's t for means across replications, Wilson
for proportions pooled over dossiers (always inside [0, 1]).

Student's t is computed exactly for integer degrees of freedom (the closed-form series of
Abramowitz & Stegun 26.7.3-4, inverted by bisection) rather than read from a table, so every df
gets its own quantile; the normal quantile comes from :class:`statistics.NormalDist`.
"""

from __future__ import annotations

import math
import statistics

Z975 = statistics.NormalDist().inv_cdf(0.975)


def _t_central(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with ``df`` degrees of freedom (t >= 0)."""
    theta = math.atan(t / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2:  # odd: 2/pi (theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 ...))
        term, total = 1.0, 0.0
        if df > 1:
            total = term
            for k in range(1, (df - 3) // 2 + 1):
                term *= c2 * (2 * k) / (2 * k + 1)
                total += term
        return 2 / math.pi * (theta + s * math.cos(theta) * total)
    term = total = 1.0  # even: sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 ...)
    for k in range(1, (df - 2) // 2 + 1):
        term *= c2 * (2 * k - 1) / (2 * k)
        total += term
    return s * total


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (0.5 < p < 1) of Student's t with ``df`` >= 1 degrees of freedom.

    Raises:
        ValueError: If ``df`` < 1 or ``p`` is outside (0.5, 1).
    """
    if df < 1 or not 0.5 < p < 1:
        raise ValueError(f"t_quantile needs df >= 1 and 0.5 < p < 1, got df={df}, p={p}")
    target = 2 * p - 1
    lo, hi = 0.0, 1.0
    while _t_central(hi, df) < target:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if _t_central(mid, df) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2


def mean_interval(values: list[float]) -> dict[str, float]:
    """Mean and 95 % Student-t half-width across replications (``nan`` below 2 values)."""
    n = len(values)
    mean = statistics.fmean(values) if values else math.nan
    if n < 2:
        return {"mean": mean, "half_width": math.nan, "n": n}
    half = t_quantile(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return {"mean": mean, "half_width": half, "n": n}


def wilson(successes: int, trials: int) -> dict[str, float]:
    """A proportion with its 95 % Wilson score interval (inside [0, 1] by construction).

    Returns:
        ``rate``, ``low``, ``high``, ``successes`` and ``trials`` (rate and bounds ``nan`` when
        there are no trials).
    """
    if trials <= 0:
        return {"rate": math.nan, "low": math.nan, "high": math.nan, "successes": 0, "trials": 0}
    p, z2 = successes / trials, Z975**2
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = Z975 / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials**2))
    return {
        "rate": p,
        # Clamped: rounding must not put 0 successes above 0 or all of them below 1.
        "low": min(p, max(0.0, centre - half)),
        "high": max(p, min(1.0, centre + half)),
        "successes": successes,
        "trials": trials,
    }
