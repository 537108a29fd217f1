"""Legal rule sets, versioned by effective date.

A dossier keeps the rule set in force on the day it was received: Decree 61/2018/NĐ-CP (as
amended by Decree 107/2021/NĐ-CP) before 1 July 2025, Decree 118/2025/NĐ-CP from then on. The
parameters that our reading of the decrees leaves open are settings with the documented defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field


class RuleSet(BaseModel):
    """The timing rules of one legal regime.

    Attributes:
        name: Short name stored on each dossier, e.g. ``decree-61-2018``.
        effective_from: First day of receipt it governs (``None``: since forever).
        cutoff: Receipts after this time on a working day count as received the next working
            day for short procedures (and are transferred to the agency the next morning).
        next_day_threshold_days: Procedures whose statutory time is at most this many days
            start their clock the next working day when received after ``cutoff``.
        max_apologies: How many times an apology letter may reset the appointment date.
        apology_lead_days: Working days before the appointment date on which the apology letter
            is due at the latest, day-granular; a later one is still accepted and recorded as a
            late notice.
        max_supplement_requests: Supplement requests that stop the clock (one written request
            listing everything missing); a further one needs a recorded reason and does not
            stop it.
        payment_pauses_clock: Whether waiting for fees or taxes is excluded from the time limit.
        transfer_extension_days: Working days a reorganisation may add to the appointment of a
            dossier it transfers to a successor unit (0: the appointment is kept).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    effective_from: date | None = None
    cutoff: time = time(15, 0)
    next_day_threshold_days: float = 1.0
    max_apologies: int = Field(default=1, ge=0)
    apology_lead_days: int = Field(default=1, ge=0, le=30)
    max_supplement_requests: int = Field(default=1, ge=0)
    payment_pauses_clock: bool = True
    transfer_extension_days: float = Field(default=0.0, ge=0, le=30)


class RuleBook:
    """Rule sets ordered by effective date; picks the one in force on a day."""

    def __init__(self, rule_sets: Sequence[RuleSet]) -> None:
        if not rule_sets:
            raise ValueError("a rule book needs at least one rule set")
        self.rule_sets = sorted(rule_sets, key=lambda r: r.effective_from or date.min)
        self._by_name = {r.name: r for r in self.rule_sets}

    def in_force(self, day: date) -> RuleSet:
        """The rule set governing dossiers received on ``day``."""
        chosen = self.rule_sets[0]
        for rules in self.rule_sets:
            if rules.effective_from is None or rules.effective_from <= day:
                chosen = rules
        return chosen

    def named(self, name: str) -> RuleSet:
        """The rule set stored on a dossier under ``name``."""
        return self._by_name[name]

    @classmethod
    def vietnam(cls) -> RuleBook:
        """Decree 61/2018 (amended by 107/2021), then Decree 118/2025 from 1 July 2025."""
        return cls(
            [
                RuleSet(name="decree-61-2018"),
                RuleSet(name="decree-118-2025", effective_from=date(2025, 7, 1)),
            ]
        )
