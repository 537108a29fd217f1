"""Intake law: which unit may receive a dossier, through which channel, and in which mode.

A dossier is decided by a competent unit at the procedure's level. It is received there, or,
for procedures on the location-independent list (không phụ thuộc địa giới hành chính), at any
unit of an allowed level. Online intake needs an online service; intake or return by post needs
the postal service (Decision 45/2016/QĐ-TTg).

Example:
    >>> from onestop.definitions import Definitions
    >>> catalog = Definitions.load("tests/fixtures/workflows").catalog
    >>> proc = catalog.get("JUDICIAL")
    >>> intake_mode(proc, catalog.units, "C", "W1", "counter", "counter")
    'location_independent'
"""

from __future__ import annotations

from typing import Literal

from onestop.catalog import Procedure
from onestop.errors import NotAllowedHere, ValidationError
from onestop.units import Units

IntakeMode = Literal["normal", "location_independent", "postal"]


def intake_mode(
    proc: Procedure,
    units: Units,
    competent_unit: str,
    intake_unit: str,
    channel: str,
    return_method: str,
) -> IntakeMode:
    """Check that ``intake_unit`` may receive ``proc`` for ``competent_unit``; return the mode.

    Args:
        proc: The procedure version in force.
        units: The unit set.
        competent_unit: The unit whose authority decides it.
        intake_unit: Where it is received.
        channel: ``counter``, ``online`` or ``postal``.
        return_method: ``counter``, ``online`` or ``post``.

    Raises:
        UnknownUnit: If a unit does not exist.
        ValidationError: If the competent unit is not at the procedure's level.
        NotAllowedHere: If the unit, channel or return method is not allowed for the procedure.
    """
    competent = units.unit(competent_unit)
    if competent.level != proc.level:
        raise ValidationError(
            "competent_unit",
            f"{competent.code!r} is a {competent.level} unit; {proc.code!r} is decided at "
            f"{proc.level} level",
        )
    intake = units.unit(intake_unit)
    mode: IntakeMode = "normal"
    if intake.code != competent.code:
        if not proc.location_independent:
            raise NotAllowedHere(
                f"{proc.code!r} must be received at {competent.code!r}: it is not on the "
                "location-independent list"
            )
        if proc.intake_levels is not None and intake.level not in proc.intake_levels:
            raise NotAllowedHere(
                f"{proc.code!r} may be received location-independently only at "
                f"{', '.join(proc.intake_levels)} level, not at {intake.level!r}"
            )
        mode = "location_independent"
    if channel == "online" and proc.online == "none":
        raise NotAllowedHere(f"{proc.code!r} is not offered online")
    if (channel == "postal" or return_method == "post") and not proc.postal:
        raise NotAllowedHere(f"{proc.code!r} is not offered through the postal service")
    if channel == "postal" and mode == "normal":
        mode = "postal"
    return mode
