"""A unit of work: the row operations of one transaction, over one connection.

The engine never holds a SQLAlchemy connection: :meth:`onestop.store.Store.write` and
:meth:`~onestop.store.Store.read` hand it a :class:`UnitOfWork`, whose methods are the only
statements a command runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from onestop.errors import StaleVersion, UnknownDossier, ValidationError
from onestop.store.codec import from_json
from onestop.store.schema import dossier_steps, dossiers, events, idempotency_keys

# Prebuilt statements: SQLAlchemy caches their compiled form per set of columns instead of
# re-keying literal values on every call.
_LOAD = select(dossiers).where(dossiers.c.id == bindparam("b_id"))
_LOCK = _LOAD.with_for_update()
_INSERT_DOSSIER = insert(dossiers)
_UPDATE_DOSSIER = update(dossiers).where(
    dossiers.c.id == bindparam("b_id"), dossiers.c.version == bindparam("b_version")
)
_INSERT_EVENT = insert(events)
_SET_HEAD = update(dossiers).where(dossiers.c.id == bindparam("b_id"))
_INSERT_STEP = insert(dossier_steps)
_UPDATE_STEP = update(dossier_steps).where(
    dossier_steps.c.dossier_id == bindparam("b_id"), dossier_steps.c.seq == bindparam("b_seq")
)
#: Every dossier column, ``None``: the row of a dossier before its first command.
EMPTY_ROW: dict[str, Any] = {c.name: None for c in dossiers.columns}


class UnitOfWork:
    """Row operations inside one transaction (or one savepoint of a batch).

    Args:
        conn: The connection, inside its transaction.
    """

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def load_dossier(self, dossier_id: int, *, lock: bool = False) -> dict[str, Any]:
        """The dossier row as a dict.

        Args:
            dossier_id: The dossier.
            lock: Lock the row until the transaction ends (``FOR UPDATE`` on PostgreSQL; SQLite
                serialises writers already), so that commands on one dossier run one after the
                other and a stale ``expected_version`` is seen before any write.

        Raises:
            UnknownDossier: If there is none.
        """
        # Ids are 64-bit keys: one outside that range names no dossier (and must not reach the
        # driver, which raises its own untyped overflow error).
        row = None
        if 0 < dossier_id < 2**63:
            row = (
                self.conn.execute(_LOCK if lock else _LOAD, {"b_id": dossier_id}).mappings().first()
            )
        if row is None:
            raise UnknownDossier(f"no dossier {dossier_id}")
        return dict(row)

    def insert_dossier(self, values: Mapping[str, Any]) -> int:
        """Insert a new dossier at version 1 and return its id."""
        result = self.conn.execute(_INSERT_DOSSIER, {**values, "version": 1})
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def reference_taken(self, reference: str) -> bool:
        """Whether a dossier already carries this external reference."""
        query = select(dossiers.c.id).where(dossiers.c.reference == reference)
        return self.conn.execute(query).first() is not None

    def update_dossier(self, dossier_id: int, version: int, values: Mapping[str, Any]) -> None:
        """Apply ``values`` if the row is still at ``version``; bump the version.

        Raises:
            StaleVersion: If another command changed the dossier since it was read.
        """
        result = self.conn.execute(
            _UPDATE_DOSSIER,
            {**values, "version": version + 1, "b_id": dossier_id, "b_version": version},
        )
        if result.rowcount != 1:
            actual = self.conn.execute(
                select(dossiers.c.version).where(dossiers.c.id == dossier_id)
            ).scalar()
            raise StaleVersion(dossier_id, version, actual)

    def append_event(self, event: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        """Append one event row, with the dossier's deadline after it (for reports as of any
        instant: with the event's status and agency, the dossier's state then)."""
        self.conn.execute(
            _INSERT_EVENT,
            {
                **event,
                "due_at": after["due_at"],
                "paused_at": after["paused_at"],
                "apologies": after["apologies"],
            },
        )

    def set_event_hash(self, dossier_id: int, value: str) -> None:
        """Move a new dossier's chain head (its first event needs the id the insert gave)."""
        self.conn.execute(_SET_HEAD, {"event_hash": value, "b_id": dossier_id})

    def insert_step(self, dossier_id: int, values: Mapping[str, Any]) -> None:
        """Insert one dossier step row."""
        self.conn.execute(_INSERT_STEP, {**values, "dossier_id": dossier_id})

    def update_step(self, dossier_id: int, seq: int, values: Mapping[str, Any]) -> None:
        """Update one dossier step row."""
        self.conn.execute(_UPDATE_STEP, {**values, "b_id": dossier_id, "b_seq": seq})

    def replay_or_claim(
        self, key: str | None, command: str, now: datetime
    ) -> dict[str, Any] | None:
        """Idempotency: the stored result row of an earlier command run with ``key``, or
        ``None`` after reserving ``key`` for this command (or when there is no key).

        Raises:
            ValidationError: If ``key`` was used for another command.
        """
        if key is None or self.claim_key(key, command, now):
            return None
        prior = self.keyed_result(key)
        if prior is None or prior["result"] is None:
            raise StaleVersion(0, 0, None)  # pragma: no cover - claimed by an aborted writer
        if prior["command"] != command:
            raise ValidationError(
                "idempotency_key",
                f"already used for a {prior['command']!r} command, not {command!r}",
            )
        return from_json(prior["result"])

    def claim_key(self, key: str, command: str, now: datetime) -> bool:
        """Reserve an idempotency key in the current transaction.

        Returns:
            False if the key is already taken (by a committed command or a concurrent one that
            has now committed); the caller then returns the stored result.
        """
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(idempotency_keys).values(key=key, command=command, created_at=now)
                )
        except IntegrityError:
            return False
        return True

    def keyed_result(self, key: str) -> dict[str, Any] | None:
        """The stored result of a command run with ``key``, if any."""
        query = select(idempotency_keys).where(idempotency_keys.c.key == key)
        row = self.conn.execute(query).mappings().first()
        return dict(row) if row else None

    def finish_key(self, key: str, dossier_id: int, result: Mapping[str, Any]) -> None:
        """Record the result of the command that claimed ``key``."""
        self.conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.key == key)
            .values(dossier_id=dossier_id, result=dict(result))
        )
