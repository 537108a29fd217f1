"""The personal-data vault's rows (table ``personal_data``): one applicant's encrypted data for
one dossier, found by its random reference or by keyed digests, never by plaintext.

The values written here are already sealed (:class:`onestop.vault.VaultKey`): this module
never sees a plaintext nor the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, null, select, update

from onestop.store.schema import idempotency_keys, personal_data
from onestop.store.unit_of_work import UnitOfWork

_COLUMNS = tuple(c.name for c in personal_data.columns)
_LOAD = select(personal_data).where(personal_data.c.ref == bindparam("b_ref"))
_BY_ID = select(personal_data.c.ref, personal_data.c.dossier_id).where(
    personal_data.c.id_index == bindparam("b_index")
)
_DELETE = delete(personal_data).where(personal_data.c.ref == bindparam("b_ref"))
_FORGET = (
    update(idempotency_keys)
    .where(idempotency_keys.c.dossier_id == bindparam("b_id"))
    .values(args_digest=null())
)


def insert_row(uow: UnitOfWork, values: Mapping[str, Any]) -> None:
    """Insert a vault row (every column of ``personal_data``)."""
    row = {c: values.get(c) for c in _COLUMNS}
    uow.run("vault.insert", insert(personal_data), row, _COLUMNS)


def load_row(uow: UnitOfWork, ref: str) -> dict[str, Any] | None:
    """The vault row ``ref`` (``None``: none, e.g. erased)."""
    rows = uow.run("vault.load", _LOAD, {"b_ref": ref})
    return rows[0] if rows else None


def update_row(uow: UnitOfWork, ref: str, values: Mapping[str, Any], now: datetime) -> None:
    """Replace some sealed fields (and their index) of the vault row ``ref``."""
    keys = (*sorted(values), "updated_at")
    statement = update(personal_data).where(personal_data.c.ref == bindparam("b_ref"))
    uow.run(
        f"vault.update.{'.'.join(keys)}",
        statement,
        {**values, "updated_at": now, "b_ref": ref},
        keys,
    )


def erase_row(uow: UnitOfWork, ref: str, dossier_id: int) -> None:
    """Delete the vault row ``ref`` and the argument digests of the dossier's idempotency keys
    (a digest of arguments that held the data could be tested against a guess by whoever holds
    the key)."""
    uow.run("vault.delete", _DELETE, {"b_ref": ref})
    uow.run("vault.forget", _FORGET, {"b_id": dossier_id})


def refs_by_id_index(uow: UnitOfWork, index: str) -> list[tuple[str, int]]:
    """``(ref, dossier_id)`` of the vault rows whose ID number has the blind index ``index``."""
    rows = uow.run("vault.by_id", _BY_ID, {"b_index": index})
    return sorted((r["ref"], r["dossier_id"]) for r in rows)
