"""Levels, administrative units and agencies, as data.

A *unit set* is one administrative map in force for a period (Can Tho 2021–2025 with three
levels; the two-tier city from 1 July 2025). Levels are data, not code: the district level exists
in one unit set and not in the next.

Example:
    >>> units = UnitSet.model_validate({
    ...     "unit_set": "demo",
    ...     "levels": [{"code": "city", "name_vi": "cấp thành phố", "name_en": "city", "rank": 1},
    ...                {"code": "commune", "name_vi": "cấp xã", "name_en": "commune", "rank": 2}],
    ...     "units": [{"code": "92", "name": "Cần Thơ", "level": "city", "kind": "city"},
    ...               {"code": "31117", "name": "Tân An", "level": "commune", "kind": "ward",
    ...                "parent": "92"}],
    ... }).build("<memory>")
    >>> units.ancestor_at("31117", "city").name
    'Cần Thơ'
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from onestop._yaml import load_yaml, validate_model
from onestop.errors import DefinitionError, Problem, UnknownUnit

#: Codes of units, agencies, procedures, steps and unit sets.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
#: Keys of levels, roles and fields: lower-case snake case.
KEY_PATTERN = r"^[a-z][a-z0-9_]*$"

UnitKind = Literal[
    "province",
    "city",
    "urban_district",
    "rural_district",
    "town_district",
    "ward",
    "commune",
    "town",
    "special_zone",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Level(_Frozen):
    """A level of government (cấp): city/province, district, commune.

    Attributes:
        code: Stable key, e.g. ``"district"``.
        name_vi: Vietnamese name, e.g. ``"cấp huyện"``.
        name_en: English name.
        rank: 1 for the top level; larger numbers are lower levels.
        location_independent: Whether procedures of this level may be flagged for
            location-independent intake.
    """

    code: str = Field(pattern=KEY_PATTERN, max_length=40)
    name_vi: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    rank: int = Field(ge=1, le=10)
    location_independent: bool = True


class Unit(_Frozen):
    """An administrative unit (đơn vị hành chính) at a level, with a parent.

    Attributes:
        code: Official administrative unit code where known.
        name: Name with Vietnamese diacritics.
        level: Level code.
        kind: Urban district, rural district, ward, commune, town...
        parent: Code of the unit above, ``None`` for the top.
        source: Where the unit (name, composition) comes from.
        assumed: True when the entry could not be taken from a source.
    """

    code: str = Field(pattern=CODE_PATTERN, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    level: str = Field(max_length=40)
    kind: UnitKind
    parent: str | None = Field(default=None, max_length=40)
    source: str = Field(default="", max_length=1000)
    assumed: bool = False


class Agency(_Frozen):
    """A body that acts on dossiers (cơ quan), belonging to a unit.

    Attributes:
        code: Stable key.
        name: Name with diacritics.
        unit: Code of the unit it belongs to.
        role: What it does in routes, e.g. ``desk``, ``justice``, ``land``, ``tax``, ``police``,
            ``leader``, ``post``. Routes name roles; each unit has at most one agency per role.
        kind: Kind of body: department, division, committee, desk, tax_office, police, post...
    """

    code: str = Field(pattern=CODE_PATTERN, max_length=60)
    name: str = Field(min_length=1, max_length=300)
    unit: str = Field(max_length=40)
    role: str = Field(pattern=KEY_PATTERN, max_length=40)
    kind: str = Field(default="division", pattern=KEY_PATTERN, max_length=40)


class UnitSet(_Frozen):
    """One administrative map as written in a ``workflows/units/*.yaml`` file."""

    unit_set: str = Field(pattern=CODE_PATTERN, max_length=60)
    name: str = ""
    valid_from: date | None = None
    valid_to: date | None = None
    source: str = ""
    levels: tuple[Level, ...] = Field(min_length=1)
    units: tuple[Unit, ...] = Field(min_length=1)
    agencies: tuple[Agency, ...] = ()

    @model_validator(mode="after")
    def _interval(self) -> UnitSet:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(
                f"valid_to {self.valid_to.isoformat()} is before valid_from "
                f"{self.valid_from.isoformat()}"
            )
        return self

    def in_force(self, day: date) -> bool:
        """Whether this map is the administrative map on ``day``."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    def build(self, file: str) -> Units:
        """Check cross-references and return the queryable :class:`Units`.

        Raises:
            DefinitionError: Unknown level or parent, duplicate codes, a parent that is not at a
                higher level, an agency at an unknown unit, two agencies with one role at a unit.
        """
        return Units(self, file)

    @classmethod
    def load(cls, path: str | Path) -> Units:
        """Load and validate a unit-set YAML file."""
        file = str(path)
        return validate_model(cls, load_yaml(Path(path)), file).build(file)


class Units:
    """The validated units and agencies of a unit set, with hierarchy queries."""

    def __init__(self, spec: UnitSet, file: str = "<memory>") -> None:
        self.spec = spec
        self.file = file
        problems: list[Problem] = []
        self.levels: dict[str, Level] = {}
        for i, level in enumerate(spec.levels):
            if level.code in self.levels:
                problems.append(
                    Problem(file, f"levels[{i}].code", f"duplicate level {level.code!r}")
                )
            self.levels[level.code] = level
        self._units: dict[str, Unit] = {}
        for i, unit in enumerate(spec.units):
            if unit.code in self._units:
                problems.append(Problem(file, f"units[{i}].code", f"duplicate unit {unit.code!r}"))
            self._units[unit.code] = unit
        self._children: dict[str, list[str]] = defaultdict(list)
        for i, unit in enumerate(spec.units):
            if unit.level not in self.levels:
                problems.append(Problem(file, f"units[{i}].level", f"unknown level {unit.level!r}"))
                continue
            if unit.parent is None:
                continue
            parent = self._units.get(unit.parent)
            if parent is None:
                problems.append(
                    Problem(file, f"units[{i}].parent", f"unknown unit {unit.parent!r}")
                )
            elif parent.level in self.levels and (
                self.levels[parent.level].rank >= self.levels[unit.level].rank
            ):
                problems.append(
                    Problem(
                        file,
                        f"units[{i}].parent",
                        f"parent {parent.code!r} ({parent.level}) is not above {unit.level!r}",
                    )
                )
            else:
                self._children[unit.parent].append(unit.code)
        self._agencies: dict[str, Agency] = {}
        self._by_role: dict[tuple[str, str], Agency] = {}
        for i, agency in enumerate(spec.agencies):
            if agency.code in self._agencies:
                problems.append(
                    Problem(file, f"agencies[{i}].code", f"duplicate agency {agency.code!r}")
                )
            if agency.unit not in self._units:
                problems.append(
                    Problem(file, f"agencies[{i}].unit", f"unknown unit {agency.unit!r}")
                )
            key = (agency.unit, agency.role)
            if key in self._by_role:
                problems.append(
                    Problem(
                        file,
                        f"agencies[{i}].role",
                        f"unit {agency.unit!r} already has a {agency.role!r} agency "
                        f"({self._by_role[key].code!r})",
                    )
                )
            self._agencies[agency.code] = agency
            self._by_role[key] = agency
        if problems:
            raise DefinitionError(problems)
        self._ancestors: dict[str, dict[str, str]] = {}
        for code in self._units:
            chain: dict[str, str] = {}
            cursor: str | None = code
            while cursor is not None:
                chain[self._units[cursor].level] = cursor
                cursor = self._units[cursor].parent
            self._ancestors[code] = chain

    @property
    def name(self) -> str:
        """The unit set's identifier, e.g. ``cantho-2024``."""
        return self.spec.unit_set

    def unit(self, code: str) -> Unit:
        """The unit with that code.

        Raises:
            UnknownUnit: If there is none.
        """
        try:
            return self._units[code]
        except KeyError:
            raise UnknownUnit(f"unknown unit {code!r} in unit set {self.name!r}") from None

    def agency(self, code: str) -> Agency:
        """The agency with that code.

        Raises:
            UnknownUnit: If there is none.
        """
        try:
            return self._agencies[code]
        except KeyError:
            raise UnknownUnit(f"unknown agency {code!r} in unit set {self.name!r}") from None

    def has_unit(self, code: str) -> bool:
        """Whether a unit with that code exists."""
        return code in self._units

    def has_agency(self, code: str) -> bool:
        """Whether an agency with that code exists."""
        return code in self._agencies

    @property
    def all_units(self) -> tuple[Unit, ...]:
        """Every unit, in file order."""
        return self.spec.units

    @property
    def all_agencies(self) -> tuple[Agency, ...]:
        """Every agency, in file order."""
        return self.spec.agencies

    def units_at(self, level: str) -> list[Unit]:
        """The units of one level, in file order."""
        return [u for u in self.spec.units if u.level == level]

    def children(self, code: str) -> list[Unit]:
        """The units directly below ``code``."""
        return [self._units[c] for c in self._children.get(code, ())]

    def ancestor_at(self, code: str, level: str) -> Unit | None:
        """The unit at ``level`` that contains ``code`` (itself included), or ``None``."""
        found = self._ancestors[self.unit(code).code].get(level)
        return self._units[found] if found else None

    def agency_for(self, role: str, unit: str) -> Agency | None:
        """The agency with ``role`` at ``unit``, or ``None``."""
        return self._by_role.get((unit, role))

    def level_of(self, code: str) -> Level:
        """The level of a unit."""
        return self.levels[self.unit(code).level]
