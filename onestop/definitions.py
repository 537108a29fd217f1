"""Loading a ``workflows/`` directory: unit sets, procedure catalogs, calendar overrides.

Files are recognised by their top-level keys, wherever they sit under the root:

* ``levels`` + ``units`` — a unit set (:class:`onestop.units.UnitSet`);
* ``procedures`` — procedures of one unit set (each a :class:`onestop.catalog.Procedure`); an
  entry with ``versions:`` is one procedure whose versions each override the entry's fields
  with their own (``valid_from``/``valid_to``, statutory time, fees, route, source...);
* ``days_off`` / ``working_days`` — calendar overrides (:class:`~onestop.CalendarOverrides`);
* ``mapping`` — a reorganisation mapping between two unit sets (:class:`UnitMapping`);
* ``fields`` — the field vocabulary with names (:class:`onestop.fields.FieldVocabulary`);
* ``manifest`` — ``onestop.yaml`` with ``default_unit_set``.

Every file is validated and every problem in every file is reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from onestop._yaml import load_yaml, problems_from
from onestop.calendar import CalendarOverrides
from onestop.catalog import Catalog, Procedure
from onestop.errors import DefinitionError, Problem
from onestop.fields import FieldName, FieldVocabulary
from onestop.units import CODE_PATTERN, Units, UnitSet


class _ProceduresHead(BaseModel):
    """The frame of a procedures file; each procedure is validated on its own."""

    model_config = ConfigDict(extra="forbid")
    unit_set: str = Field(pattern=CODE_PATTERN, max_length=60)
    #: Another unit set whose procedures this one takes over (its own entries replace those
    #: with the same code), each checked again against this unit set.
    derive_from: str | None = Field(default=None, pattern=CODE_PATTERN, max_length=60)
    #: What the derivation assumes, stated once for the whole file.
    note: str = Field(default="", max_length=2000)
    procedures: list[Any] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some_procedures(self) -> _ProceduresHead:
        if not self.procedures and self.derive_from is None:
            raise ValueError("give procedures, or derive_from another unit set")
        return self


class Manifest(BaseModel):
    """``workflows/onestop.yaml``: which unit set the engine uses by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    default_unit_set: str
    #: The unit sets one engine serves in turn, oldest first, each chosen by the receipt day
    #: (e.g. the three-tier city, then the merged two-tier city from 1 July 2025).
    timeline: tuple[str, ...] = ()


class MappingEntry(BaseModel):
    """One old unit and the new unit that succeeds it.

    Attributes:
        old: The unit of the old set.
        new: Its successor in the new set.
        note: Where the entry comes from.
        assumed: True when no source gives it.
        seat: For an abolished level (a district): the new unit that takes its dossiers of
            procedures now decided at a lower level, when the dossier names no lower unit.
        seat_note: Where ``seat`` comes from.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    old: str
    new: str
    note: str = ""
    assumed: bool = False
    seat: str | None = None
    seat_note: str = ""


class UnitMapping(BaseModel):
    """Old-to-new unit mapping of a reorganisation, e.g. the 1 July 2025 two-tier reform."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mapping: str
    from_unit_set: str
    to_unit_set: str
    effective: date
    source: str = ""
    units: tuple[MappingEntry, ...] = Field(min_length=1)


@dataclass
class Definitions:
    """Everything loaded from a workflows directory.

    Attributes:
        root: The directory loaded.
        unit_sets: Every unit set by name.
        catalogs: The catalog of each unit set that has procedures.
        overrides: Calendar overrides merged from every overrides file.
        mappings: Reorganisation mappings by name.
        default_unit_set: The unit set used when none is named.
        fields: The field vocabulary (empty when no fields file was loaded).
    """

    root: Path
    unit_sets: dict[str, Units]
    catalogs: dict[str, Catalog]
    overrides: CalendarOverrides | None = None
    mappings: dict[str, UnitMapping] = field(default_factory=dict)
    default_unit_set: str = ""
    fields: dict[str, FieldName] = field(default_factory=dict)
    #: The manifest's timeline (empty: the default unit set alone).
    timeline: tuple[str, ...] = ()

    @property
    def units(self) -> Units:
        """The default unit set."""
        return self.unit_sets[self.default_unit_set]

    @property
    def catalog(self) -> Catalog:
        """The default unit set's catalog (empty if it has no procedures)."""
        return self.catalog_for(self.default_unit_set)

    def catalog_for(self, unit_set: str) -> Catalog:
        """The catalog of one unit set."""
        return self.catalogs.get(unit_set) or Catalog(self.unit_sets[unit_set], (), self.fields)

    @classmethod
    def load(cls, root: str | Path, unit_set: str | None = None) -> Definitions:
        """Load and validate every definition file under ``root``.

        Args:
            root: A ``workflows/`` directory (or a single YAML file).
            unit_set: The default unit set; otherwise the manifest's, or the only one.

        Raises:
            DefinitionError: Every problem in every file, each with file, key path and reason.
        """
        root = Path(root)
        if not root.exists():
            raise DefinitionError([Problem(str(root), "", "no such file or directory")])
        files = [root] if root.is_file() else sorted(root.rglob("*.y*ml"))
        problems: list[Problem] = []
        unit_specs: dict[str, tuple[UnitSet, str]] = {}
        proc_files: list[tuple[tuple[str, list[tuple[str, Procedure]]], str]] = []
        derived: dict[str, tuple[str, str]] = {}
        overrides: list[CalendarOverrides] = []
        mappings: dict[str, tuple[UnitMapping, str]] = {}
        manifest: Manifest | None = None
        fields: dict[str, FieldName] | None = None

        def parse(model: type[BaseModel], data: Any, name: str) -> Any:
            try:
                return model.model_validate(data)
            except pydantic.ValidationError as exc:
                problems.extend(problems_from(exc, name))
                return None

        for path in files:
            name = str(path)
            try:
                data = load_yaml(path)
            except DefinitionError as exc:
                problems.extend(exc.problems)
                continue
            if not isinstance(data, dict):
                problems.append(Problem(name, "", "expected a mapping at the top level"))
            elif "levels" in data or "units" in data and "unit_set" in data:
                spec = parse(UnitSet, data, name)
                if spec is not None:
                    if spec.unit_set in unit_specs:
                        problems.append(
                            Problem(name, "unit_set", f"duplicate unit set {spec.unit_set!r}")
                        )
                    unit_specs[spec.unit_set] = (spec, name)
            elif "procedures" in data:
                pf = _parse_procedures(data, name, problems)
                if pf is not None:
                    proc_files.append((pf, name))
                    base = data.get("derive_from")
                    if isinstance(base, str):
                        derived[pf[0]] = (base, name)
            elif "mapping" in data:
                mp = parse(UnitMapping, data, name)
                if mp is not None:
                    mappings[mp.mapping] = (mp, name)
            elif "fields" in data:
                vocabulary = parse(FieldVocabulary, data, name)
                if vocabulary is not None:
                    fields = fields or {}
                    for i, f in enumerate(vocabulary.fields):
                        if f.code in fields:
                            problems.append(
                                Problem(name, f"fields[{i}].code", f"duplicate field {f.code!r}")
                            )
                        fields[f.code] = f
            elif "days_off" in data or "working_days" in data:
                ov = parse(CalendarOverrides, data, name)
                if ov is not None:
                    overrides.append(ov)
            elif "default_unit_set" in data:
                manifest = parse(Manifest, data, name)
            elif data.get("kind") == "feedback-law":
                pass  # citizen feedback time limits: read by onestop.feedback
            elif "officers" in data:
                pass  # a staff directory: loaded on its own (onestop staff-directory load)
            else:
                problems.append(
                    Problem(
                        name,
                        "",
                        "unrecognised definition file: expected a unit set (levels, units), "
                        "procedures, fields, a mapping, calendar overrides or a manifest",
                    )
                )

        unit_sets: dict[str, Units] = {}
        for set_name, (spec, name) in unit_specs.items():
            try:
                unit_sets[set_name] = spec.build(name)
            except DefinitionError as exc:
                problems.extend(exc.problems)

        entries: dict[str, list[tuple[Any, str, str]]] = {}
        for (set_name, procs), name in proc_files:
            if set_name not in unit_specs:
                problems.append(Problem(name, "unit_set", f"unknown unit set {set_name!r}"))
                continue
            entries.setdefault(set_name, []).extend((proc, name, key) for key, proc in procs)
        for set_name, (base, name) in derived.items():
            if base not in entries:
                problems.append(Problem(name, "derive_from", f"no procedures of {base!r}"))
                continue
            own = {proc.code for proc, _, _ in entries.get(set_name, [])}
            entries.setdefault(set_name, []).extend(
                (proc, file, key) for proc, file, key in entries[base] if proc.code not in own
            )
        catalogs: dict[str, Catalog] = {}
        for set_name, items in entries.items():
            if set_name not in unit_sets:
                continue  # its unit set already reported problems
            try:
                catalogs[set_name] = Catalog(unit_sets[set_name], items, fields)
            except DefinitionError as exc:
                problems.extend(exc.problems)

        for mp, name in mappings.values():
            problems.extend(check_mapping(mp, unit_sets, name))

        default = unit_set or (manifest.default_unit_set if manifest else None)
        if default is None and len(unit_specs) == 1:
            default = next(iter(unit_specs))
        if default is None:
            problems.append(
                Problem(str(root), "default_unit_set", "several unit sets and no default named")
            )
        elif default not in unit_specs:
            problems.append(Problem(str(root), "default_unit_set", f"unknown unit set {default!r}"))
        timeline = manifest.timeline if manifest else ()
        for i, set_name in enumerate(timeline):
            if set_name not in unit_specs:
                problems.append(
                    Problem(str(root), f"timeline[{i}]", f"unknown unit set {set_name!r}")
                )
        if problems:
            raise DefinitionError(problems)
        merged = None
        if overrides:
            merged = CalendarOverrides(
                days_off=tuple(d for o in overrides for d in o.days_off),
                working_days=tuple(d for o in overrides for d in o.working_days),
            )
        assert default is not None
        maps = {key: mp for key, (mp, _) in mappings.items()}
        return cls(root, unit_sets, catalogs, merged, maps, default, fields or {}, timeline)


def _parse_procedures(
    data: dict[str, Any], file: str, problems: list[Problem]
) -> tuple[str, list[tuple[str, Procedure]]] | None:
    """Validate a procedures file one procedure (version) at a time, so that one bad entry does
    not hide the cross-reference problems of the others.

    Returns:
        The unit set's name and ``(key path, procedure)`` for each valid version.
    """
    try:
        head = _ProceduresHead.model_validate(data)
    except pydantic.ValidationError as exc:
        problems.extend(problems_from(exc, file))
        return None
    good: list[tuple[str, Procedure]] = []
    for i, item in enumerate(head.procedures):
        for key, fields in _versions_of(item, f"procedures[{i}]", file, problems):
            try:
                good.append((key, Procedure.model_validate(fields)))
            except pydantic.ValidationError as exc:
                problems.extend(problems_from(exc, file, key))
    return head.unit_set, good


def _versions_of(item: Any, key: str, file: str, problems: list[Problem]) -> list[tuple[str, Any]]:
    """Expand an entry with ``versions:`` into one field set per version (numbered from 1
    unless given), each with its key path; any other entry is one version."""
    if not isinstance(item, dict) or "versions" not in item:
        return [(key, item)]
    versions = item["versions"]
    if not isinstance(versions, list) or not versions:
        problems.append(Problem(file, f"{key}.versions", "expected a non-empty list of versions"))
        return []
    base = {k: v for k, v in item.items() if k != "versions"}
    out: list[tuple[str, Any]] = []
    for j, override in enumerate(versions):
        where = f"{key}.versions[{j}]"
        if not isinstance(override, dict):
            problems.append(Problem(file, where, "expected a mapping of the fields that change"))
            continue
        out.append((where, {**base, "version": j + 1, **override}))
    return out


def check_mapping(mp: UnitMapping, unit_sets: dict[str, Units], file: str) -> list[Problem]:
    """Problems of a mapping: unknown unit sets or units, dates that do not join the sets."""
    problems = [
        Problem(file, key, f"unknown unit set {getattr(mp, key)!r}")
        for key in ("from_unit_set", "to_unit_set")
        if getattr(mp, key) not in unit_sets
    ]
    if problems:
        return problems
    old_set, new_set = unit_sets[mp.from_unit_set].spec, unit_sets[mp.to_unit_set].spec
    if new_set.valid_from is not None and new_set.valid_from != mp.effective:
        problems.append(
            Problem(
                file,
                "effective",
                f"the mapping takes effect on {mp.effective.isoformat()} but unit set "
                f"{new_set.unit_set!r} is valid from {new_set.valid_from.isoformat()}",
            )
        )
    if old_set.valid_to is not None and old_set.valid_to + timedelta(days=1) != mp.effective:
        problems.append(
            Problem(
                file,
                "effective",
                f"the mapping takes effect on {mp.effective.isoformat()} but unit set "
                f"{old_set.unit_set!r} is valid until {old_set.valid_to.isoformat()}",
            )
        )
    sides = (("old", unit_sets[mp.from_unit_set]), ("new", unit_sets[mp.to_unit_set]))
    for i, entry in enumerate(mp.units):
        for side, units in sides:
            code = getattr(entry, side)
            if not units.has_unit(code):
                problems.append(Problem(file, f"units[{i}].{side}", f"unknown unit {code!r}"))
        if entry.seat is not None and not sides[1][1].has_unit(entry.seat):
            problems.append(Problem(file, f"units[{i}].seat", f"unknown unit {entry.seat!r}"))
    return problems
