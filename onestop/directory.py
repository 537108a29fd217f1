"""The staff directory: who works where, in which roles, from when to when.

Access is decided from this directory, never from what a caller says about itself: an engine
with a directory looks the acting user up at the command's instant (see
:class:`onestop.access.OneStopPolicy`). An officer has one or more *periods* of validity, each
with an agency and roles; periods of one user do not overlap. ``valid_from`` is the first
instant a period holds, ``valid_to`` the first instant it no longer holds (``None``: open).
A date in a YAML file means midnight at its start in Asia/Ho_Chi_Minh.

Roles: ``desk`` (receives and returns at the one-stop desk), ``specialist`` (processes the
steps its agency holds), ``leader`` (resolves and apologises for its unit), ``privacy`` (the
unit's personal-data officer: corrects and erases applicants' data under Decree 13/2023) and
``monitor`` (reads the dossiers of its unit and the units below it, without personal data)
and ``inspector`` (the inspectorate: handles complaints about officers' conduct, see
:mod:`onestop.feedback_access`).
Applicants are not in the directory: a user id the directory does not know at the instant is
an applicant account, with no staff power.

Example:
    >>> from datetime import datetime
    >>> from onestop.clock import VN_TZ
    >>> d = StaffDirectory.from_data(
    ...     {"officers": [{"user_id": "lan", "name": "Nguyễn Thị Lan", "agency": "D1-DESK",
    ...                    "roles": ["desk"], "valid_from": "2025-01-01"}]})
    >>> d.at("lan", datetime(2025, 3, 1, tzinfo=VN_TZ)).roles
    frozenset({'desk'})
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from onestop._yaml import load_yaml, problems_from
from onestop.clock import VN_TZ
from onestop.errors import DefinitionError, Problem
from onestop.inputs import Code, Name, UserId
from onestop.units import Units

Role = Literal["desk", "specialist", "leader", "privacy", "monitor", "inspector"]
#: Every staff role, in the order the README's access matrix lists them (``inspector``, the
#: inspectorate of citizens' feedback in :mod:`onestop.feedback_access`, last).
ROLES: tuple[str, ...] = ("desk", "specialist", "leader", "privacy", "monitor", "inspector")


def _instant(value: Any) -> Any:
    """A date means its first instant in Vietnam; a naive datetime is refused later."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=VN_TZ)
    return value


Instant = Annotated[pydantic.AwareDatetime, BeforeValidator(_instant)]


class Officer(BaseModel):
    """One period of an officer in the directory.

    Attributes:
        user_id: Their account (what commands and queries name as ``actor``).
        name: Display name.
        agency: The agency they work for in this period.
        roles: Their roles (at least one).
        valid_from: First instant of the period.
        valid_to: First instant after it (``None``: until ended).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: UserId
    name: Name
    agency: Code
    roles: frozenset[Role] = Field(min_length=1)
    valid_from: Instant
    valid_to: Instant | None = None

    @model_validator(mode="after")
    def _period(self) -> Officer:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self

    def holds_at(self, instant: datetime) -> bool:
        """Whether this period holds at ``instant``."""
        return self.valid_from <= instant and (self.valid_to is None or instant < self.valid_to)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officers: list[Any]


class StaffDirectory:
    """The officers' periods, checked: known agencies (when units are given), no overlap.

    Args:
        officers: The periods.

    Raises:
        DefinitionError: If two periods of one user overlap.
    """

    def __init__(self, officers: Iterable[Officer], file: str = "<memory>") -> None:
        self.officers = tuple(sorted(officers, key=lambda o: (o.user_id, o.valid_from)))
        problems = overlaps(self.officers, file)
        if problems:
            raise DefinitionError(problems)

    def at(self, user_id: str, instant: datetime) -> Officer | None:
        """The period of ``user_id`` holding at ``instant`` (``None``: not staff then)."""
        for officer in self.officers:
            if officer.user_id == user_id and officer.holds_at(instant):
                return officer
        return None

    @classmethod
    def from_data(
        cls, data: Any, units: Units | None = None, file: str = "<memory>"
    ) -> StaffDirectory:
        """Validate a parsed directory file (``officers:`` a list of periods).

        Args:
            data: The parsed YAML.
            units: The unit set whose agencies officers must belong to (unchecked if ``None``).
            file: The file name, for error messages.

        Raises:
            DefinitionError: Every problem, each with its key path (``officers[3].agency``).
        """
        try:
            head = _File.model_validate(data)
        except pydantic.ValidationError as exc:
            raise DefinitionError(problems_from(exc, file)) from None
        problems: list[Problem] = []
        good: list[Officer] = []
        for i, item in enumerate(head.officers):
            where = f"officers[{i}]"
            try:
                officer = Officer.model_validate(item)
            except pydantic.ValidationError as exc:
                problems.extend(problems_from(exc, file, where))
                continue
            if units is not None and not units.has_agency(officer.agency):
                problems.append(
                    Problem(
                        file,
                        f"{where}.agency",
                        f"unknown agency {officer.agency!r} in unit set {units.name!r}",
                    )
                )
                continue
            good.append(officer)
        problems += overlaps(good, file)
        if problems:
            raise DefinitionError(problems)
        return cls(good, file)

    @classmethod
    def load(cls, path: str | Path, units: Units | None = None) -> StaffDirectory:
        """Read and validate a directory YAML file.

        Raises:
            DefinitionError: If the file is unreadable, not YAML, or any period is invalid.
        """
        return cls.from_data(load_yaml(Path(path)), units, str(path))


def overlaps(officers: Iterable[Officer], file: str = "<memory>") -> list[Problem]:
    """One problem per pair of periods of the same user that overlap."""
    problems: list[Problem] = []
    by_user: dict[str, list[Officer]] = {}
    for o in officers:
        by_user.setdefault(o.user_id, []).append(o)
    for user, periods in by_user.items():
        periods.sort(key=lambda o: o.valid_from)
        for before, after in zip(periods, periods[1:], strict=False):
            if before.valid_to is None or before.valid_to > after.valid_from:
                problems.append(
                    Problem(
                        file,
                        f"officers[user_id={user}]",
                        f"periods from {before.valid_from.isoformat()} and "
                        f"{after.valid_from.isoformat()} overlap",
                    )
                )
    return problems
