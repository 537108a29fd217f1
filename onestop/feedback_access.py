"""Who may read and act on citizen feedback.

Staff of the receiving unit see and handle ordinary feedback (about a procedure or a
regulation); the agency it is with classifies, assigns, answers and publishes it; the unit's
leader extends its time limit. A complaint about an officer's conduct is different: only the
inspectorate (role ``inspector``) of its unit or of a unit above it, and the leaders of its unit,
may read it or act on it — not the officers of the agency complained about. Applicants submit
feedback and rate answers. Refusals raise :class:`~onestop.access.Forbidden` and change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from onestop.access import Actor, Forbidden
from onestop.units import Units

#: Commands the agency holding the item runs.
HANDLING = frozenset({"accept", "forward", "reject", "assign", "answer", "publish", "close"})
STAFF = frozenset({"desk", "specialist", "leader"})
CONDUCT = "officer_conduct"


class FeedbackPolicy:
    """The default policy for feedback (see the module docstring)."""

    def check(self, actor: Actor, trigger: str, case: Mapping[str, Any], units: Units) -> None:
        """Raise Forbidden unless ``actor`` may run ``trigger`` (or ``read``) on ``case``."""
        if trigger in ("receive", "rate") and "applicant" in actor.roles:
            return
        if actor.agency is None:
            raise Forbidden(f"{actor.user_id} works for no agency and may not {trigger} feedback")
        home = units.agency(actor.agency).unit
        unit = case["unit"]
        if case["subject"] == CONDUCT and trigger != "receive":
            if "leader" in actor.roles and home == unit:
                return
            if "inspector" in actor.roles and _at_or_above(units, home, unit):
                return
            raise Forbidden(
                f"{actor.user_id} may not {trigger} a complaint about an officer's conduct: "
                f"only the inspectorate and the leaders of {unit}"
            )
        if trigger == "receive":
            if "desk" not in actor.roles or home != unit:
                raise Forbidden(f"{actor.user_id} is not at the desk of {unit}")
            return
        if trigger == "read":
            if actor.roles & (STAFF | {"inspector"}) and (
                home == unit or actor.agency == case["agency"]
            ):
                return
            raise Forbidden(f"{actor.user_id} works neither at {unit} nor at {case['agency']}")
        if trigger == "extend":
            if "leader" in actor.roles and home == unit:
                return
            raise Forbidden(f"{actor.user_id} needs the leader role at {unit} to extend")
        if trigger == "rate":
            if "desk" in actor.roles and home == unit:
                return
            raise Forbidden(f"{actor.user_id} may not record a rating for {unit}")
        if trigger in HANDLING:
            if actor.roles & STAFF and actor.agency == case["agency"]:
                return
            raise Forbidden(f"the feedback is with {case['agency']}, not with {actor.agency}")
        raise Forbidden(f"no rule lets anyone {trigger} feedback")


def _at_or_above(units: Units, home: str, unit: str) -> bool:
    if home == unit:
        return True
    above = units.ancestor_at(unit, units.unit(home).level)
    return above is not None and above.code == home
