"""The event recorder: how a change reaches the hash-chained event log.

Every writer of events — the engine's commands, a reorganisation's transfers, the feedback
desk — goes through one :class:`EventRecorder`. It owns two rules:

* the audit key is resolved **before anything is written** (:meth:`EventRecorder.write` opens
  the unit of work only once it is known), so a missing key refuses a command whole, even
  inside a batch without a savepoint;
* a dossier's change is written as one unit: the version-checked row, its step rows, exactly
  one event chained under the key, the portal's outbox message when the change alters what the
  portal shows, and the idempotent result (:meth:`EventRecorder.record_new`,
  :meth:`EventRecorder.record_change`).

Example:
    >>> from onestop.audit_key import AuditKey
    >>> recorder = EventRecorder(Store("sqlite://"), AuditKey.from_text("00" * 32))
    >>> recorder.key().key_id  # the key's public fingerprint, recorded on every event
    '66687aadf862bd77'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from onestop.audit_key import AuditKey, audit_key_for_writing
from onestop.dossier import Dossier
from onestop.portal import changes_portal, portal_state
from onestop.status import Status
from onestop.store import EMPTY_ROW, Store, UnitOfWork, to_json
from onestop.store.event_log import event_row

log = structlog.get_logger("onestop.engine")


@dataclass(frozen=True, slots=True)
class Change:
    """A command's change of one dossier, as the recorder writes it.

    Attributes:
        trigger: The command's trigger.
        changes: The columns it sets (``updated_at`` included; replayed to rebuild the row).
        args: Its arguments, as recorded on the event.
        actor: Who acted, as recorded.
        at: When.
        unit: Where, when the event names a unit (a new dossier's intake unit, a transfer's
            successor).
        new_steps: The step rows it inserts.
        step_updates: ``(seq, columns)`` of the step rows it updates.
        scoped: The claimed idempotency key, to store the result under.
        logged: Whether to log the command (not on the simulator's trusted path).
    """

    trigger: str
    changes: dict[str, Any]
    args: Mapping[str, Any]
    actor: str | None
    at: datetime
    unit: str | None = None
    new_steps: Sequence[Mapping[str, Any]] = ()
    step_updates: Sequence[tuple[int, Mapping[str, Any]]] = ()
    scoped: str | None = None
    logged: bool = True


class EventRecorder:
    """Writes events to a store's log, chained under one audit key.

    Args:
        store: Where rows and events are written.
        audit_key: The key chaining new events (default: from ``ONESTOP_AUDIT_KEY`` or
            ``ONESTOP_AUDIT_KEY_FILE``, looked up at the first write).
        dev: Development mode: without a key, events are chained with plain SHA-256.
    """

    def __init__(
        self, store: Store, audit_key: AuditKey | None = None, *, dev: bool = False
    ) -> None:
        self.store = store
        self.dev = dev
        self._key = audit_key
        self._key_ready = False

    def key(self) -> AuditKey | None:
        """The audit key for new events, looked up once (``None``: unkeyed, development mode).

        Raises:
            AuditKeyError: Without a key outside development mode.
        """
        if not self._key_ready:
            self._key = audit_key_for_writing(self._key, dev=self.dev)
            self._key_ready = True
        return self._key

    @contextmanager
    def write(self, *, savepoint: bool = True, keyed: bool = True) -> Iterator[UnitOfWork]:
        """The store's unit of work for writing (:meth:`onestop.store.Store.write`), opened once
        the audit key is known.

        Raises:
            AuditKeyError: Without a key outside development mode (nothing is written).
        """
        self.key()
        with self.store.write(savepoint=savepoint, keyed=keyed) as uow:
            yield uow

    def record_new(self, uow: UnitOfWork, row: dict[str, Any], change: Change) -> Dossier:
        """Record a dossier just inserted by ``uow`` (``row``, with its new id, at version 1;
        its ``event_hash`` is set here): its step rows, its first event and its chain head."""
        for step in change.new_steps:
            uow.insert_step(row["id"], step)
        event = event_row(
            row, None, change.trigger, Status.NEW.value, change.changes, change.args,
            actor=change.actor, at=change.at, unit=change.unit, key=self.key(),
            new_steps=change.new_steps,
        )  # fmt: skip
        # The first event's hash needs the new id: the head is set after the insert.
        uow.set_event_hash(row["id"], event["hash"])
        row["event_hash"] = event["hash"]
        return self._record(uow, EMPTY_ROW, row, event, change)

    def record_change(self, uow: UnitOfWork, row: Mapping[str, Any], change: Change) -> Dossier:
        """Write a change of a dossier ``row`` loaded (and locked) by ``uow``: the
        version-checked UPDATE with the moved chain head, its step rows and its event.

        Raises:
            StaleVersion: If another writer changed the dossier since it was loaded (nothing
                of the change is written).
        """
        dossier_id, changes = row["id"], change.changes
        after = {**row, **changes, "version": row["version"] + 1}
        event = event_row(
            after, row["event_hash"], change.trigger, row["status"], changes, change.args,
            actor=change.actor, at=change.at, unit=change.unit, key=self.key(),
            new_steps=change.new_steps, step_updates=change.step_updates,
        )  # fmt: skip
        # The version-checked UPDATE first (the chain head moves with the other columns):
        # if it is refused, nothing of the change has been written, even inside a batch.
        uow.update_dossier(dossier_id, row["version"], {**changes, "event_hash": event["hash"]})
        for seq, values in change.step_updates:
            uow.update_step(dossier_id, seq, values)
        for step in change.new_steps:
            uow.insert_step(dossier_id, step)
        after["event_hash"] = event["hash"]
        return self._record(uow, row, after, event, change)

    def _record(
        self,
        uow: UnitOfWork,
        before: Mapping[str, Any],
        after: dict[str, Any],
        event: dict[str, Any],
        change: Change,
    ) -> Dossier:
        """Append the event (and the portal's message when it changes what the portal shows),
        store the idempotent result, log; ``before`` and ``after`` are the old and new rows.

        The trusted path (the simulator's millions of commands) is not logged per command: the
        lazy structlog proxy costs more than the rest of the recording."""
        if self.store.outbox and changes_portal(before, after):
            uow.append_event_with_message(event, after, portal_state(after))
        else:
            uow.append_event(event, after)
        uow.remember(after)
        if change.scoped is not None:
            uow.finish_key(change.scoped, after["id"], to_json(after))
        if change.logged:
            log.debug(
                "dossier.command",
                trigger=event["trigger"],
                dossier_id=after["id"],
                procedure=after["procedure_code"],
                unit=after["competent_unit"],
                status=after["status"],
                version=after["version"],
            )
        return Dossier.from_row(after)
