"""The staff directory's rows: load, add, end, list, and the look-up every check makes.

The directory is the ``officers`` table (one row per period of an officer, see
:mod:`onestop.directory`); an engine that enforces it looks the acting user up with
:func:`officer_at` inside the command's own transaction, at the command's instant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update

from onestop.directory import Officer, StaffDirectory, overlaps
from onestop.errors import ValidationError
from onestop.store.schema import officers
from onestop.store.unit_of_work import UnitOfWork

_AT = select(officers).where(
    officers.c.user_id == bindparam("b_user"),
    officers.c.valid_from <= bindparam("b_at"),
    or_(officers.c.valid_to.is_(None), officers.c.valid_to > bindparam("b_at")),
)


def _officer(row: Any) -> Officer:
    values = dict(row)
    values["roles"] = frozenset(values["roles"].split())
    return Officer.model_validate(values)


def _values(o: Officer) -> dict[str, Any]:
    return {**o.model_dump(), "roles": " ".join(sorted(o.roles))}


def officer_at(uow: UnitOfWork, user_id: str, at: datetime) -> Officer | None:
    """The directory's period of ``user_id`` holding at ``at`` (``None``: not staff then)."""
    rows = uow.run("officers.at", _AT, {"b_user": user_id, "b_at": at})
    return _officer(rows[0]) if rows else None


def has_directory(conn: Connection) -> bool:
    """Whether the database holds a staff directory (any officer, past or present)."""
    return bool(conn.execute(select(func.count()).select_from(officers)).scalar())


def load_directory(conn: Connection, directory: StaffDirectory) -> int:
    """Replace the whole directory with ``directory`` (a file holds every period, past ones
    included); returns the number of periods."""
    conn.execute(delete(officers))
    if directory.officers:
        conn.execute(insert(officers), [_values(o) for o in directory.officers])
    return len(directory.officers)


def list_officers(conn: Connection, at: datetime | None = None) -> list[Officer]:
    """Every period (or those holding at ``at``), by user and start."""
    query = select(officers).order_by(officers.c.user_id, officers.c.valid_from)
    if at is not None:
        query = query.where(
            officers.c.valid_from <= at,
            or_(officers.c.valid_to.is_(None), officers.c.valid_to > at),
        )
    return [_officer(r) for r in conn.execute(query).mappings()]


def add_officer(conn: Connection, officer: Officer) -> None:
    """Add one period.

    Raises:
        ValidationError: If it overlaps another period of the same user.
    """
    query = select(officers).where(officers.c.user_id == officer.user_id)
    existing = [_officer(r) for r in conn.execute(query).mappings()]
    problems = overlaps([*existing, officer])
    if problems:
        raise ValidationError("valid_from", f"{officer.user_id}: {problems[0].reason}")
    conn.execute(insert(officers).values(**_values(officer)))


def end_officer(conn: Connection, user_id: str, at: datetime) -> Officer:
    """End the period of ``user_id`` holding at ``at``: from ``at`` on they are not staff.

    Raises:
        ValidationError: If no period of theirs holds at ``at``.
    """
    current = [o for o in list_officers(conn, at) if o.user_id == user_id]
    if not current:
        raise ValidationError("user_id", f"{user_id} is not in the directory at {at.isoformat()}")
    period = current[0]
    this = (officers.c.user_id == user_id, officers.c.valid_from == period.valid_from)
    if at == period.valid_from:  # ended before it began: the period never held
        conn.execute(delete(officers).where(*this))
    else:
        conn.execute(update(officers).where(*this).values(valid_to=at))
    return period.model_copy(update={"valid_to": at})
