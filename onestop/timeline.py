"""The unit sets one engine serves in turn, each chosen by the day a dossier is received.

A reorganisation (the 1 July 2025 two-tier reform) replaces one unit set and its catalog with
another; dossiers received before it keep the unit set they were received under until they are
transferred (:mod:`onestop.reorganisation`), and a dossier received after it at a unit that no
longer exists is refused with :class:`~onestop.errors.AbolishedUnit`, naming the successors.

Example:
    >>> from datetime import date
    >>> from onestop.definitions import Definitions
    >>> timeline = Timeline.of(Definitions.load("workflows"))
    >>> timeline.catalog_at(date(2025, 6, 30)).units.name
    'cantho-2024'
    >>> timeline.catalog_at(date(2025, 7, 1)).units.name
    'cantho-2025-merged'
    >>> timeline.successors("92.NK.TANAN", "cantho-2024")
    ('92.NINHKIEU',)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from onestop.catalog import Catalog
from onestop.definitions import Definitions, MappingEntry, UnitMapping
from onestop.errors import AbolishedUnit, UnknownUnit


@dataclass(frozen=True)
class Timeline:
    """Catalogs in the order they took effect, and the mappings between consecutive ones.

    Attributes:
        catalogs: Oldest first; each serves receipts from its unit set's ``valid_from``.
        mappings: ``(from set, to set)`` → the mapping between them.
    """

    catalogs: tuple[Catalog, ...]
    mappings: dict[tuple[str, str], UnitMapping]

    @classmethod
    def single(cls, catalog: Catalog) -> Timeline:
        """One catalog, whatever the day."""
        return cls((catalog,), {})

    @classmethod
    def of(
        cls, defs: Definitions, unit_set: str | None = None, serve: Sequence[str] = ()
    ) -> Timeline:
        """The definitions' timeline (the manifest's ``timeline``), or ``unit_set`` alone.

        Args:
            defs: Loaded definitions.
            unit_set: Serve this unit set alone (default: the manifest's timeline, else the
                default unit set alone).
            serve: Serve these unit sets, oldest first (overrides both).

        Raises:
            UnknownUnit: If ``serve`` names a unit set the definitions do not have.
        """
        names = tuple(serve) or (
            (unit_set,) if unit_set else (defs.timeline or (defs.default_unit_set,))
        )
        for name in names:
            if name not in defs.unit_sets:
                raise UnknownUnit(f"unknown unit set {name!r}")
        catalogs = tuple(defs.catalog_for(n) for n in names)
        mappings: dict[tuple[str, str], UnitMapping] = {}
        for key in sorted(defs.mappings):
            mp = defs.mappings[key]
            pair = (mp.from_unit_set, mp.to_unit_set)
            if pair not in mappings and all(n in names for n in pair):
                mappings[pair] = mp
        return cls(catalogs, mappings)

    @property
    def names(self) -> tuple[str, ...]:
        """The unit sets served, oldest first."""
        return tuple(c.units.name for c in self.catalogs)

    def catalog_at(self, day: date) -> Catalog:
        """The catalog that receives dossiers on ``day``: the latest whose unit set has begun
        (the first one before any has)."""
        begun = [
            c for c in self.catalogs if c.units.spec.valid_from is None
            or c.units.spec.valid_from <= day
        ]  # fmt: skip
        return begun[-1] if begun else self.catalogs[0]

    def catalog(self, unit_set: str) -> Catalog:
        """The catalog of a unit set this engine serves.

        Raises:
            UnknownUnit: If the engine does not serve it.
        """
        for c in self.catalogs:
            if c.units.name == unit_set:
                return c
        raise UnknownUnit(f"unit set {unit_set!r} is not served by this engine ({self.names})")

    def mapping_from(self, unit_set: str) -> UnitMapping | None:
        """The mapping that replaced ``unit_set``, if this engine serves its successor."""
        for (old, _), mp in self.mappings.items():
            if old == unit_set:
                return mp
        return None

    def successors(self, code: str, unit_set: str) -> tuple[str, ...]:
        """The units succeeding ``code`` of ``unit_set``: its entry's seat, the successors of
        the units below it (a district's communes), then its entry's new unit; no repeats."""
        mp = self.mapping_from(unit_set)
        if mp is None:
            return ()
        return successors_of(mp, self.catalog(unit_set), code)

    def receiving(self, day: date, *units: str | None) -> Catalog:
        """The catalog that receives on ``day`` (:meth:`catalog_at`), once each of ``units``
        (``None`` skipped) is checked open: not a unit that a reorganisation in force on ``day``
        abolished. One rule for every kind of case received (dossiers, feedback).

        Raises:
            AbolishedUnit: If one of ``units`` was abolished by a reorganisation in force.
        """
        current = self.catalog_at(day)
        if len(self.catalogs) > 1:
            for code in units:
                if code is not None:
                    self._check_open(code, day, current)
        return current

    def _check_open(self, code: str, day: date, current: Catalog) -> None:
        """Raise AbolishedUnit if ``code`` is a unit of an earlier unit set that a mapping in
        force on ``day`` replaced (``current``: the catalog receiving then)."""
        if current.units.has_unit(code):
            return
        for catalog in self.catalogs:
            if catalog is current or not catalog.units.has_unit(code):
                continue
            mp = self.mapping_from(catalog.units.name)
            if mp is not None and mp.effective <= day:
                found = successors_of(mp, catalog, code)
                raise AbolishedUnit(code, mp.effective.isoformat(), found)


def entries_by_old(mapping: UnitMapping) -> dict[str, MappingEntry]:
    """The mapping's entries by old unit (the first entry of a unit named twice)."""
    found: dict[str, MappingEntry] = {}
    for entry in mapping.units:
        found.setdefault(entry.old, entry)
    return found


def successors_of(mapping: UnitMapping, old: Catalog, code: str) -> tuple[str, ...]:
    """The new units succeeding ``code`` (see :meth:`Timeline.successors`)."""
    entries = entries_by_old(mapping)
    entry = entries.get(code)
    found = [entry.seat] if entry is not None and entry.seat else []
    if old.units.has_unit(code):
        for child in old.units.children(code):
            if child.code in entries:
                found.append(entries[child.code].new)
    if entry is not None:
        found.append(entry.new)
    return tuple(dict.fromkeys(found))
