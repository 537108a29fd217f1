"""Who may do what: actors and the one-stop access policy.

Desk staff receive and return at their own unit (and receive location-independent procedures
for any unit); staff act only on the step their agency holds (the desk hands over its own);
leaders resolve and issue apology letters for the unit whose agency holds the dossier; nobody
acts on another unit's dossier. A refused command raises :class:`Forbidden`, is logged, and
changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from onestop.errors import OnestopError
from onestop.units import Units


class Forbidden(OnestopError):
    """The actor may not run this command on this dossier."""


class Actor(BaseModel):
    """Who runs a command.

    Attributes:
        user_id: The officer's (or applicant's) account.
        agency: The agency they work for (``None`` for an applicant).
        roles: ``desk``, ``specialist``, ``leader``, ``applicant``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: str = Field(min_length=1, max_length=100)
    agency: str | None = Field(default=None, max_length=60)
    roles: frozenset[str] = frozenset()


class Policy(Protocol):
    """Decides whether an actor may fire a trigger on a dossier (raise :class:`Forbidden`)."""

    def check(self, actor: Actor, trigger: str, dossier: Mapping[str, Any], units: Units) -> None:
        """Raise Forbidden if ``actor`` may not fire ``trigger`` on ``dossier``."""
        ...


DESK_INTAKE = frozenset({"receive", "refuse", "submit_online"})
DESK_RETURN = frozenset(
    {"receive_submitted", "return_result", "dispatch_post", "withdraw", "supplement", "pay", "rate"}
)
STEP_WORK = frozenset(
    {"complete_step", "request_supplement", "request_payment", "suspend", "resume"}
)
LEADER = frozenset({"resolve", "apologise"})


class OneStopPolicy:
    """The default policy of a one-stop back office (see the module docstring)."""

    def check(self, actor: Actor, trigger: str, dossier: Mapping[str, Any], units: Units) -> None:
        """Raise Forbidden unless the actor's role and unit allow ``trigger`` here."""
        if trigger == "submit_online" and "applicant" in actor.roles:
            return
        if actor.agency is None:
            raise Forbidden(f"{actor.user_id} works for no agency and may not {trigger}")
        home = units.agency(actor.agency).unit
        at_desk = {dossier.get("intake_unit"), dossier.get("competent_unit")}
        if trigger in DESK_INTAKE:
            self._need(actor, "desk", trigger)
            if dossier.get("intake_unit") != home:
                raise Forbidden(
                    f"{actor.user_id} is at {home}, not at the intake unit "
                    f"{dossier.get('intake_unit')}"
                )
            return
        if trigger in DESK_RETURN:
            self._need(actor, "desk", trigger)
            if home not in at_desk:
                raise Forbidden(f"{actor.user_id}'s desk ({home}) does not hold this dossier")
            return
        if trigger in STEP_WORK:
            # Whoever's agency holds the step works on it: the desk hands over its own step.
            if not actor.roles & {"specialist", "leader", "desk"}:
                raise Forbidden(f"{actor.user_id} needs a staff role to {trigger}")
            if actor.agency != dossier.get("current_agency"):
                raise Forbidden(
                    f"the dossier's step is held by {dossier.get('current_agency')}, "
                    f"not by {actor.agency}"
                )
            return
        if trigger in LEADER:
            self._need(actor, "leader", trigger)
            holder = dossier.get("current_agency")
            if holder is None or units.agency(holder).unit != home:
                raise Forbidden(f"{actor.user_id} leads {home}, which does not hold this dossier")
            return
        raise Forbidden(f"no rule lets anyone {trigger}")

    @staticmethod
    def _need(actor: Actor, role: str, trigger: str) -> None:
        if role not in actor.roles:
            raise Forbidden(f"{actor.user_id} needs the {role} role to {trigger}")
