"""Who may do what and see what: actors and the one-stop access policy.

Desk staff receive and return at their own unit (and receive location-independent procedures
for any unit); staff act only on the step their agency holds (the desk hands over its own);
leaders resolve and issue apology letters for the unit whose agency holds the dossier; nobody
acts on another unit's dossier. Only the applicant rates their dossier, or the desk records
their rating on their behalf (marked so on the event). The desk corrects an applicant's data at
their request and the unit's personal-data officer (``privacy``) corrects or erases it (Decree
13/2023). A refused command raises :class:`Forbidden`, is logged, and changes nothing.

Staff see the dossiers received at or decided by their unit, and those their agency holds or
held a step of; a ``monitor`` sees those of its unit and every unit below it. Applicants see
only their own dossiers. Personal data is shown to the desk, specialists, leaders, the privacy
officer and the applicant themselves, not to monitors.

Where roles come from is :mod:`onestop.authority`'s business: from the staff directory when
the engine has one, else from the caller's :class:`Actor` (embedding without a directory).
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

    def check(
        self,
        actor: Actor,
        trigger: str,
        dossier: Mapping[str, Any],
        units: Units,
        *,
        owner: bool = False,
    ) -> None:
        """Raise Forbidden if ``actor`` may not fire ``trigger`` on ``dossier`` (``owner``: the
        actor is the dossier's applicant)."""
        ...

    def may_see(
        self,
        actor: Actor,
        dossier: Mapping[str, Any],
        units: Units,
        *,
        owner: bool = False,
        step_agencies: frozenset[str] = frozenset(),
    ) -> bool:
        """Whether ``actor`` may read ``dossier`` (its row, events and steps)."""
        ...

    def visible_units(self, actor: Actor, units: Units) -> frozenset[str]:
        """The units whose dossiers (received or decided there) ``actor`` sees."""
        ...

    def sees_personal_data(self, actor: Actor, *, owner: bool = False) -> bool:
        """Whether ``actor`` may read the applicant's personal data of a dossier it sees."""
        ...


DESK_INTAKE = frozenset({"receive", "refuse", "submit_online"})
DESK_RETURN = frozenset(
    {"receive_submitted", "return_result", "dispatch_post", "withdraw", "supplement", "pay", "rate"}
)
STEP_WORK = frozenset(
    {"complete_step", "request_supplement", "request_payment", "suspend", "resume"}
)
LEADER = frozenset({"resolve", "apologise"})
#: Commands on the applicant's personal data (Decree 13/2023), and who runs them at the desk.
CORRECT = frozenset({"correct_personal_data"})
ERASE = frozenset({"erase_personal_data"})
#: Staff roles that see applicants' personal data (not ``monitor``).
PERSONAL_DATA_ROLES = frozenset({"desk", "specialist", "leader", "privacy"})


class OneStopPolicy:
    """The default policy of a one-stop back office (see the module docstring)."""

    def check(
        self,
        actor: Actor,
        trigger: str,
        dossier: Mapping[str, Any],
        units: Units,
        *,
        owner: bool = False,
    ) -> None:
        """Raise Forbidden unless the actor's role and unit allow ``trigger`` here."""
        if "applicant" in actor.roles:
            if trigger == "submit_online" or (trigger == "rate" and owner):
                return
            if trigger == "rate":
                raise Forbidden(f"{actor.user_id} may rate only their own dossier")
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
        if trigger in CORRECT or trigger in ERASE:
            need = {"privacy"} if trigger in ERASE else {"privacy", "desk"}
            if not actor.roles & need:
                raise Forbidden(f"{actor.user_id} needs the {' or '.join(sorted(need))} role "
                                f"to {trigger}")  # fmt: skip
            if home not in at_desk:
                raise Forbidden(f"{actor.user_id} is at {home}, which did not receive or decide "
                                "this dossier")  # fmt: skip
            return
        if trigger in LEADER:
            self._need(actor, "leader", trigger)
            holder = dossier.get("current_agency")
            if holder is None or units.agency(holder).unit != home:
                raise Forbidden(f"{actor.user_id} leads {home}, which does not hold this dossier")
            return
        raise Forbidden(f"no rule lets anyone {trigger}")

    def may_see(
        self,
        actor: Actor,
        dossier: Mapping[str, Any],
        units: Units,
        *,
        owner: bool = False,
        step_agencies: frozenset[str] = frozenset(),
    ) -> bool:
        """Whether ``actor`` may read ``dossier`` (see the module docstring)."""
        if actor.agency is None:
            return owner and "applicant" in actor.roles
        seen = self.visible_units(actor, units)
        return (
            dossier.get("intake_unit") in seen
            or dossier.get("competent_unit") in seen
            or dossier.get("current_agency") == actor.agency
            or actor.agency in step_agencies
        )

    def visible_units(self, actor: Actor, units: Units) -> frozenset[str]:
        """The actor's unit; for a monitor, also every unit below it."""
        if actor.agency is None:
            return frozenset()
        home = units.agency(actor.agency).unit
        if "monitor" not in actor.roles:
            return frozenset({home})
        seen, todo = {home}, [home]
        while todo:
            for child in units.children(todo.pop()):
                if child.code not in seen:
                    seen.add(child.code)
                    todo.append(child.code)
        return frozenset(seen)

    def sees_personal_data(self, actor: Actor, *, owner: bool = False) -> bool:
        """The applicant themselves, and staff in :data:`PERSONAL_DATA_ROLES`."""
        if "applicant" in actor.roles and actor.agency is None:
            return owner
        return bool(actor.roles & PERSONAL_DATA_ROLES)

    @staticmethod
    def _need(actor: Actor, role: str, trigger: str) -> None:
        if role not in actor.roles:
            raise Forbidden(f"{actor.user_id} needs the {role} role to {trigger}")
