"""Read queries over dossiers, their steps and events (worklists and histories)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, false, func, or_, select

from onestop.store import clauses
from onestop.store.schema import (
    agencies,
    dossier_steps,
    dossiers,
    events,
    fields,
    levels,
    personal_data,
    procedures,
    units,
)
from onestop.store.unit_of_work import UnitOfWork


def history(uow: UnitOfWork, dossier_id: int) -> list[dict[str, Any]]:
    """The dossier's event rows, oldest first.

    Raises:
        UnknownDossier: If there is no such dossier.
    """
    uow.load_dossier(dossier_id)
    query = select(events).where(events.c.dossier_id == dossier_id).order_by(events.c.seq)
    return [dict(r) for r in uow.conn.execute(query).mappings()]


def steps(uow: UnitOfWork, dossier_id: int) -> list[dict[str, Any]]:
    """The dossier's step rows in route order.

    Raises:
        UnknownDossier: If there is no such dossier.
    """
    uow.load_dossier(dossier_id)
    query = (
        select(dossier_steps)
        .where(dossier_steps.c.dossier_id == dossier_id)
        .order_by(dossier_steps.c.seq)
    )
    return [dict(r) for r in uow.conn.execute(query).mappings()]


def open_dossiers(
    uow: UnitOfWork,
    *,
    units: Sequence[str] | None = None,
    agency: str | None = None,
    procedure: str | None = None,
    overdue_at: datetime | None = None,
    limit: int = 1000,
    visible: Visible | None = None,
) -> list[dict[str, Any]]:
    """Open dossier rows, filtered, ordered by appointment date then id; with ``visible``,
    only those its user may see."""
    query = select(dossiers).where(clauses.is_open())
    if visible is not None:
        query = query.where(visible.clause())
    if units is not None:
        query = query.where(dossiers.c.competent_unit.in_(list(units)))
    if agency is not None:
        query = query.where(dossiers.c.current_agency == agency)
    if procedure is not None:
        query = query.where(dossiers.c.procedure_code == procedure)
    if overdue_at is not None:
        query = query.where(clauses.overdue(dossiers.c.due_at, overdue_at))
    query = query.order_by(dossiers.c.due_at, dossiers.c.id).limit(limit)
    return [dict(r) for r in uow.conn.execute(query).mappings()]


@dataclass(frozen=True)
class Visible:
    """What one user may see (:meth:`onestop.access.OneStopPolicy.visibility`): dossiers
    received at or decided by one of ``units``, held now or before by ``agency``, or owned by
    the applicant account whose blind index is ``owner_index``."""

    units: frozenset[str] = frozenset()
    agency: str | None = None
    owner_index: str | None = None

    def clause(self) -> ColumnElement[bool]:
        """The SQL condition."""
        d = dossiers.c
        terms: list[ColumnElement[bool]] = []
        if self.units:
            seen = sorted(self.units)
            terms += [d.intake_unit.in_(seen), d.competent_unit.in_(seen)]
        if self.agency is not None:
            held = select(dossier_steps.c.dossier_id).where(dossier_steps.c.agency == self.agency)
            terms += [d.current_agency == self.agency, d.id.in_(held)]
        if self.owner_index is not None:
            owned = select(personal_data.c.ref).where(
                personal_data.c.account_index == self.owner_index
            )
            terms.append(d.applicant_ref.in_(owned))
        return or_(*terms) if terms else false()


_STEP_AGENCIES = select(dossier_steps.c.agency).where(
    dossier_steps.c.dossier_id == bindparam("b_id")
)


def step_agencies(uow: UnitOfWork, dossier_id: int) -> frozenset[str]:
    """The agencies that hold or held a step of the dossier (in any unit of work, a command's
    included)."""
    return frozenset(r["agency"] for r in uow.run("queries.step_agencies", _STEP_AGENCIES,
                                                   {"b_id": dossier_id}))  # fmt: skip


def latest_event_at(uow: UnitOfWork) -> datetime | None:
    """When the most recent event happened (``None`` in an empty database)."""
    value: datetime | None = uow.conn.execute(select(func.max(events.c.at))).scalar()
    return value


def names(uow: UnitOfWork) -> dict[str, dict[str, tuple[str, str]]]:
    """Vietnamese and English names of the codes reports group by, from the stored definitions:
    ``{"level": {"city": ("cấp thành phố", "city")}, "unit": {...}, "agency": ..., ...}``."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    conn = uow.conn
    out["level"] = {r.code: (r.name_vi, r.name_en) for r in conn.execute(select(levels))}
    out["unit"] = {r.code: (r.name, r.name) for r in conn.execute(select(units))}
    out["intake_unit"] = out["unit"]
    out["agency"] = {r.code: (r.name, r.name) for r in conn.execute(select(agencies))}
    out["field"] = {r.code: (r.name_vi, r.name_en) for r in conn.execute(select(fields))}
    query = select(procedures.c.code, procedures.c.name_vi, procedures.c.name_en).order_by(
        procedures.c.version
    )
    out["procedure"] = {r.code: (r.name_vi, r.name_en) for r in conn.execute(query)}
    return out


def open_of_unit_set(uow: UnitOfWork, unit_set: str) -> list[dict[str, Any]]:
    """Every open dossier row received under (or moved to) ``unit_set``, by id."""
    query = (
        select(dossiers)
        .where(clauses.is_open(), dossiers.c.unit_set == unit_set)
        .order_by(dossiers.c.id)
    )
    return [dict(r) for r in uow.conn.execute(query).mappings()]
