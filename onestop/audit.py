"""Tamper evidence: verification of the event log and of everything derived from it.

Each event stores ``HMAC-SHA-256(audit key, previous hash + canonical content)``; the dossier row
stores the hash of its latest event. Editing an event breaks its chain, and without the key a
forger cannot re-chain it; deleting or inserting one breaks the sequence or the chain; deleting a
dossier's latest event leaves the row's head hash pointing nowhere. Rows, steps, the deadline
columns of events, idempotency results and completed days' rollups are recomputed from the log.
Each alert is re-judged by the one overdue / due-soon rule on the state the log records at the
time it was raised (:mod:`onestop.alert_audit`), and the scheduler's job runs are checked for
order, overlap and each sweep's count of alerts (:mod:`onestop.job_audit`). Daily anchors
(:mod:`onestop.anchors`) seal each past day's events under the audit key and are chained day to
day, so a consistent rewrite of a dossier, a deleted dossier or truncated newest events of an
anchored day change an anchor the forger cannot re-seal; the external anchor file also catches
removed anchors and an emptied database. Verifying never writes, and it reads each table as a
stream in case order, merged with the log one case at a time, so its memory does not grow with
the log (``python -m benchmarks --only verify-memory``).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, func, select, true

from onestop.alert_audit import AlertRules, Sweeps, alert_query, check_alerts
from onestop.alerts import DUE_SOON_DAYS
from onestop.anchors import (
    GENESIS,
    LEGACY,
    Anchor,
    day_digest,
    expected_hash,
    read_anchor_file,
    stored_anchors,
)
from onestop.audit_key import AuditKey, load_audit_key
from onestop.calendar import Calendar
from onestop.finding import Finding
from onestop.job_audit import check_job_runs
from onestop.periods import Period
from onestop.rollups import ROLLUP_COUNTS, compute_rollups
from onestop.store import Store, feedback_rows, replay_rows
from onestop.store.codec import from_json
from onestop.store.event_log import GENESIS as CHAIN_GENESIS
from onestop.store.event_log import chain_hash, replay_steps, states
from onestop.store.schema import (
    daily_rollups,
    dossier_steps,
    dossiers,
    events,
    idempotency_keys,
)

if TYPE_CHECKING:
    from onestop.store.unit_of_work import UnitOfWork


#: A day's event count and digest, read once per verification.
Digests = Callable[[date], tuple[int, str]]


@dataclass
class _Chains:
    """What checking the chains needs and tallies: the key at hand, the first keyed event."""

    key: AuditKey | None
    first_keyed: int | None
    unkeyed: int = 0
    unchecked: set[str] = field(default_factory=set)
    unchecked_events: int = 0
    without_steps: int = 0

    def seal(self, event: dict[str, Any]) -> tuple[bool, AuditKey | None]:
        """Whether ``event``'s hash can be recomputed here, and with which key (``None``: a
        plain sha256)."""
        kid = event.get("key_id")
        if kid is None:
            return True, None
        if self.key is not None and kid == self.key.key_id:
            return True, self.key
        return False, None

    def notes(self) -> list[str]:
        out = []
        if self.unkeyed:
            out.append(
                f"{self.unkeyed} event(s) chained without an audit key (development mode, or "
                "written before keyed chains): anyone who can write to the database can "
                "recompute their chain; only the anchors protect them"
            )
        if self.unchecked_events:
            out.append(
                f"{self.unchecked_events} event(s) chained with audit key(s) "
                f"{', '.join(sorted(self.unchecked))}, not at hand: their chain is not checked"
            )
        if self.without_steps:
            out.append(
                f"{self.without_steps} dossier(s) have events older than step records "
                "(migration 0011): their steps are not checked"
            )
        return out


def _check_chain(dossier_id: int, history: list[dict[str, Any]], chains: _Chains) -> Finding | None:
    previous = CHAIN_GENESIS
    for i, event in enumerate(history):
        expected = i + 1
        if event["seq"] > expected:
            return Finding(dossier_id, expected, "deleted", f"event {expected} is missing")
        checkable, seal = chains.seal(event)
        if not checkable:
            if chains.key is not None:
                # A forger can write any key id; the key at hand is the only one we trust.
                detail = f"chained with audit key {event['key_id']}, not the key at hand"
                return Finding(dossier_id, event["seq"], "edited", detail)
            chains.unchecked.add(event["key_id"])
            chains.unchecked_events += 1
            previous = event["hash"]
            continue
        if seal is None:  # a plain sha256 chain
            chains.unkeyed += 1
            if chains.first_keyed is not None and event["id"] > chains.first_keyed:
                detail = "chained without the audit key after keyed events began"
                return Finding(dossier_id, event["seq"], "unkeyed", detail)
        if chain_hash(previous, event, seal) != event["hash"]:
            after = history[i + 1] if i + 1 < len(history) else None
            original = {**after, "seq": after["seq"] - 1} if after is not None else None
            if original is not None:
                next_checkable, next_seal = chains.seal(original)
                if next_checkable and (
                    chain_hash(previous, original, next_seal) == original["hash"]
                ):
                    # The next event, at its original number, chains from the one before this
                    # one: this event was slipped in and the later ones renumbered.
                    return Finding(dossier_id, event["seq"], "inserted", "not part of the chain")
            return Finding(dossier_id, event["seq"], "edited", "content does not match its hash")
        previous = event["hash"]
    return None


def _check_steps(
    dossier_id: int,
    history: list[dict[str, Any]],
    stored: dict[int, dict[str, Any]],
    chains: _Chains,
) -> Finding | None:
    """The dossier's step rows equal the steps its events recorded."""
    rebuilt = replay_steps(history)
    if rebuilt is None:
        chains.without_steps += 1
        return None
    for seq in sorted(set(rebuilt) | set(stored)):
        if seq not in stored:
            return Finding(dossier_id, None, "steps_edited", f"step {seq} is missing")
        if seq not in rebuilt:
            return Finding(dossier_id, None, "steps_edited", f"step {seq} is not in the log")
        diff = _differences(rebuilt[seq], stored[seq])
        if diff:
            return Finding(dossier_id, None, "steps_edited", f"step {seq}: {', '.join(diff)}")
    return None


def _as_dossier(changed: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in changed.items() if k != "extensions"}
    if "extensions" in changed:
        out["apologies"] = changed["extensions"]
    return out


def _check_derived(dossier_id: int, history: list[dict[str, Any]]) -> Finding | None:
    """The event columns outside the hash (the deadline after each event, which as-of reports
    read) equal what the hashed data says."""
    if dossier_id < 0:  # a feedback item records its extensions where dossiers do apologies
        history = [{**e, "data": {**e["data"], "set": _as_dossier(e["data"]["set"])}}
                   for e in history]  # fmt: skip
    for event, state in zip(history, states(history), strict=True):
        diff = [k for k in ("due_at", "paused_at", "apologies") if event[k] != state[k]]
        if diff:
            return Finding(dossier_id, event["seq"], "derived_edited", ", ".join(diff))
    return None


@dataclass
class AuditReport:
    """What :func:`audit` found.

    Attributes:
        findings: Signs of tampering, each naming the dossier, event, table or day.
        notes: What could not be checked, or is not yet anchored (not tampering).
    """

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def verify(
    store: Store,
    key: AuditKey | None = None,
    anchor_file: Path | None = None,
    *,
    calendar: Calendar | None = None,
) -> list[Finding]:
    """The findings of :func:`audit`: empty when everything checks out."""
    return audit(store, key, anchor_file, calendar=calendar).findings


def audit(
    store: Store,
    key: AuditKey | None = None,
    anchor_file: Path | None = None,
    *,
    calendar: Calendar | None = None,
    due_soon_days: float = DUE_SOON_DAYS,
) -> AuditReport:
    """Check everything that can be recomputed from the event log, and the anchors.

    Every dossier's chain (edited, deleted, inserted or reordered events), its row against the
    replay of its events, the stored idempotency results against the replay up to their
    version, every alert against the case's state when it was raised
    (:mod:`onestop.alert_audit`), the scheduler's job runs (:mod:`onestop.job_audit`), the
    rollups of completed days against a recomputation, and
    the daily anchors:
    their chain, their seals (with ``key``), no day missing, and, with the external
    ``anchor_file``, every line of it present and unchanged in the database.

    Args:
        store: The database to check (read only: verifying never writes).
        key: The audit key that chained the events and sealed the anchors (default: the
            environment's, as the engine reads it; without one, keyed chains and seals are
            not checked, and the notes say so).
        anchor_file: The external anchor file (:mod:`onestop.anchors`).
        calendar: The working calendar the alert sweeps used, to check the horizon of
            due-soon alerts (without it, the rest of their rule is checked and a note says so).
        due_soon_days: The sweeps' due-soon horizon in working days.

    Raises:
        ValidationError: If ``anchor_file`` cannot be read.
        AuditKeyError: If the environment names a malformed key.
    """
    report = AuditReport()
    key = key if key is not None else load_audit_key()
    with store.read() as uow:
        rules = AlertRules(calendar, due_soon_days, Sweeps.load(uow))
        found, report.notes = _check_dossiers(uow.conn, key, rules)
        report.notes += rules.notes()
        report.findings += found
        runs, run_notes = check_job_runs(uow)
        report.findings += runs
        report.notes += run_notes
        report.findings += _check_rollups(uow)
        # Each day's events are read once, whether the database's anchor or the file's asks.
        digest: Digests = functools.cache(functools.partial(day_digest, uow))
        _check_anchors(uow, digest, key, report)
        if anchor_file is not None:
            _check_anchor_file(uow, digest, key, anchor_file, report)
    return report


def _check_order(dossier_id: int, history: list[dict[str, Any]]) -> Finding | None:
    """Events of a dossier follow each other in time and in the log's id order."""
    for before, event in itertools.pairwise(history):
        if event["at"] < before["at"]:
            return Finding(dossier_id, event["seq"], "reordered", "earlier than the event before")
        if event["id"] < before["id"]:
            return Finding(dossier_id, event["seq"], "reordered", "id lower than the event before")
    return None


def _check_dossiers(
    conn: Connection, key: AuditKey | None, rules: AlertRules
) -> tuple[list[Finding], list[str]]:
    """Every case's chain, event order, row, steps, derived event columns, stored idempotency
    results and alerts, in one pass over the log merged with each table read in case order
    (bounded memory: one case at a time); the results' and alerts' findings after the others.
    Returns the findings and the notes on what could not be checked."""
    findings: list[Finding] = []
    later: list[Finding] = []
    first_keyed = conn.execute(select(func.min(events.c.id)).where(events.c.key_id.is_not(None)))
    chains = _Chains(key, first_keyed.scalar())
    log = _Groups(_stream(conn, select(events).order_by(events.c.dossier_id, events.c.seq)))
    heads = _Groups(_heads(conn), "id")
    steps = _Groups(_stream(conn, select(dossier_steps).order_by(
        dossier_steps.c.dossier_id, dossier_steps.c.seq)))  # fmt: skip
    k = idempotency_keys.c
    results = _Groups(_stream(conn, select(k.dossier_id, k.key, k.result)
                              .where(k.result.is_not(None), k.dossier_id.is_not(None))
                              .order_by(k.dossier_id, k.key)))  # fmt: skip
    raised = _Groups(_stream(conn, alert_query()))
    streams = (log, heads, steps, results, raised)
    while (case := _next_case(streams)) is not None:
        history, row = log.take(case), heads.first(case)
        stored = {s["seq"]: {c: v for c, v in s.items() if c != "dossier_id"}
                  for s in steps.take(case)}  # fmt: skip
        keyed = [(r["key"], r["result"]) for r in results.take(case)]
        later += _check_results(case, history, keyed)
        later += check_alerts(case, history, raised.take(case), rules)
        found = _check_case(case, history, row, stored, chains)
        if found:
            findings.append(found)
    unattached = _stream(conn, select(k.key, k.result).where(
        k.result.is_not(None), k.dossier_id.is_(None)).order_by(k.key))  # fmt: skip
    for item in unattached:  # results that name no dossier
        later += _check_results(None, [], [(item["key"], item["result"])])
    return findings + later, chains.notes()


def _check_case(
    case: int,
    history: list[dict[str, Any]],
    row: dict[str, Any] | None,
    stored_steps: dict[int, dict[str, Any]],
    chains: _Chains,
) -> Finding | None:
    """The first thing wrong with one case (dossier or feedback item): its chain and event
    order, its row against the replay, its steps, its events' derived columns."""
    if not history:
        if row is not None:
            return Finding(case, 1, "deleted", "the dossier has no events")
        if stored_steps:
            return Finding(case, None, "inserted", "step rows of a dossier that does not exist")
        return None
    found = _check_chain(case, history, chains) or _check_order(case, history)
    if found is None and row is None:
        found = Finding(case, None, "inserted", "events of a dossier that does not exist")
    if found is None and row is not None and row["event_hash"] != history[-1]["hash"]:
        found = Finding(case, history[-1]["seq"] + 1, "deleted", "the latest events are missing")
    if found is None and row is not None:
        diff = _differences(replay_rows(history), row)
        if diff:
            found = Finding(case, None, "row_edited", f"columns {', '.join(diff)}")
    if found is None:
        found = _check_steps(case, history, stored_steps, chains) or _check_derived(case, history)
    return found


#: Rows fetched at a time from a streamed query (PostgreSQL: a server-side cursor).
_BATCH = 1000


def _stream(conn: Connection, query: Select[Any]) -> Iterator[dict[str, Any]]:
    """The rows of ``query`` as dicts, fetched a batch at a time rather than all at once."""
    for row in conn.execute(query, execution_options={"yield_per": _BATCH}).mappings():
        yield dict(row)


def _heads(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every case's row by case id: feedback items first (minus their ids), then dossiers."""
    yield from _stream(conn, feedback_rows.heads_query())
    yield from _stream(conn, select(dossiers).order_by(dossiers.c.id))


class _Groups:
    """Rows ordered by case id, handed out one case at a time (for a merge over tables)."""

    def __init__(self, rows: Iterator[dict[str, Any]], column: str = "dossier_id") -> None:
        self._rows, self._column = rows, column
        self._head = next(rows, None)

    @property
    def next_case(self) -> int | None:
        """The case of the next row, ``None`` once every row is taken."""
        return None if self._head is None else int(self._head[self._column])

    def take(self, case: int) -> list[dict[str, Any]]:
        """The rows of ``case`` (every earlier case's rows must have been taken)."""
        out: list[dict[str, Any]] = []
        while self._head is not None and self._head[self._column] == case:
            out.append(self._head)
            self._head = next(self._rows, None)
        return out

    def first(self, case: int) -> dict[str, Any] | None:
        """The one row of ``case``, if any."""
        rows = self.take(case)
        return rows[0] if rows else None


def _next_case(streams: Sequence[_Groups]) -> int | None:
    cases = [s.next_case for s in streams if s.next_case is not None]
    return min(cases) if cases else None


def _differences(rebuilt: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    return sorted(k for k in rebuilt if k in stored and rebuilt[k] != stored[k])


def _check_results(
    dossier_id: int | None, history: list[dict[str, Any]], items: list[tuple[str, Any]]
) -> list[Finding]:
    """An idempotency key's stored result is the dossier as its command left it: the replay
    of the dossier's events up to the result's version."""
    findings: list[Finding] = []
    for key, result in items:
        stored = from_json(result)
        version = stored.get("version")
        if not isinstance(version, int) or not 0 < version <= len(history):
            findings.append(
                Finding(dossier_id, None, "result_edited", f"idempotency key {key!r}: no such "
                        f"version {version!r}")
            )  # fmt: skip
            continue
        diff = _differences(replay_rows(history[:version]), stored)
        if diff or stored.get("id") != dossier_id:
            findings.append(
                Finding(dossier_id, version, "result_edited",
                        f"idempotency key {key!r}: {', '.join(diff) or 'id'}")
            )  # fmt: skip
    return findings


def _check_rollups(uow: UnitOfWork) -> list[Finding]:
    """Rollups of days that were over when computed equal a recomputation from the dossiers."""
    findings: list[Finding] = []
    stored = _stream(uow.conn, select(daily_rollups).order_by(daily_rollups.c.day))
    for day, group in itertools.groupby(stored, key=lambda row: row["day"]):
        rows = list(group)  # one day's rows at a time
        if any(x["computed_at"] < Period(day, day, "").bounds[1] for x in rows):
            continue  # rolled up while the day was still running; the next night redoes it
        fresh = {_rollup_key(x): _rollup_values(x) for x in compute_rollups(uow, day, day, None)}
        old = {_rollup_key(x): _rollup_values(x) for x in rows}
        if fresh != old:
            changed = sorted(str(key) for key in set(fresh) | set(old)
                             if fresh.get(key) != old.get(key))  # fmt: skip
            findings.append(
                Finding(None, None, "rollup_edited",
                        f"daily_rollups of {day}: {len(changed)} row(s) differ, e.g. {changed[0]}",
                        "daily_rollups")
            )  # fmt: skip
    return findings


def _rollup_key(row: dict[str, Any]) -> tuple[str, ...]:
    return (str(row["level"]), str(row["unit"]), str(row["procedure_code"]))


def _rollup_values(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in ROLLUP_COUNTS) + (row["field"],)


def _changed(where: str, day: date, then: int, now: int) -> Finding:
    """The finding of a day whose events no longer match its anchor."""
    return Finding(None, None, "anchor_mismatch",
                   f"{where}events of {day} changed since they were anchored ({then} then, "
                   f"{now} now)")  # fmt: skip


def _check_anchors(
    uow: UnitOfWork, digest: Digests, key: AuditKey | None, report: AuditReport
) -> None:
    """The anchors in the database: one per day without a gap, each chained to the day before
    and sealed over that day's events as they are now."""
    stored = stored_anchors(uow)
    unchecked: list[str] = []
    previous: Anchor | None = None
    for anchor in stored:
        if previous is not None and anchor.day != previous.day + timedelta(days=1):
            report.findings.append(
                Finding(None, None, "anchor_missing",
                        f"no anchor from {previous.day + timedelta(days=1)} to "
                        f"{anchor.day - timedelta(days=1)}")
            )  # fmt: skip
        expected_prev = GENESIS if previous is None else previous.hash
        legacy_link = anchor.key_id == LEGACY or (previous is not None and previous.key_id == LEGACY
                                                  and anchor.prev == previous.hash)  # fmt: skip
        if anchor.prev != expected_prev and not legacy_link:
            where = "the first anchor" if previous is None else f"the anchor of {previous.day}"
            report.findings.append(
                Finding(None, None, "anchor_missing",
                        f"the anchor of {anchor.day} does not follow {where}")
            )  # fmt: skip
        count, day_hash = digest(anchor.day)
        expected = expected_hash(anchor, day_hash, count, key)
        if expected is None:
            unchecked.append(anchor.key_id)
        elif expected != anchor.hash or count != anchor.events:
            report.findings.append(_changed("", anchor.day, anchor.events, count))
        previous = anchor
    if unchecked:
        report.notes.append(
            f"{len(unchecked)} anchor seal(s) not checked: made with audit key(s) "
            f"{', '.join(sorted(set(unchecked)))}, not at hand"
        )
    last_day = stored[-1].day if stored else None
    after = events.c.at >= Period(last_day, last_day, "").bounds[1] if last_day else true()
    pending = uow.conn.execute(select(func.count()).select_from(events).where(after)).scalar() or 0
    if pending:
        since = f"after {last_day}" if last_day else "since the first event"
        report.notes.append(f"{pending} event(s) {since} are not anchored yet (`onestop anchor`)")


def _check_anchor_file(
    uow: UnitOfWork, digest: Digests, key: AuditKey | None, file: Path, report: AuditReport
) -> None:
    """Every line of the external anchor file: chained to the line before, sealed with the key,
    and present unchanged in the database over the same events."""
    in_db = {a.day: a for a in stored_anchors(uow)}
    previous: Anchor | None = None
    for number, item in read_anchor_file(file):
        where = f"{file}:{number}"
        if isinstance(item, str):
            report.findings.append(Finding(None, None, "anchor_file", f"{where}: {item}"))
            continue
        if previous is not None and item.prev != previous.hash:
            report.findings.append(
                Finding(None, None, "anchor_file", f"{where}: does not follow the line before")
            )
        count, day_hash = digest(item.day)
        expected = expected_hash(item, item.digest, item.events, key)
        if expected is not None and expected != item.hash:
            report.findings.append(
                Finding(None, None, "anchor_file", f"{where}: the line's seal is not valid")
            )
        db = in_db.get(item.day)
        if db is None:
            report.findings.append(
                Finding(None, None, "anchor_missing",
                        f"{where}: the anchor of {item.day} is not in the database")
            )  # fmt: skip
        elif (db.hash, db.prev) != (item.hash, item.prev):
            report.findings.append(
                Finding(None, None, "anchor_mismatch",
                        f"{where}: the database's anchor of {item.day} differs from the file")
            )  # fmt: skip
        if (count, day_hash) != (item.events, item.digest):
            report.findings.append(_changed(f"{where}: ", item.day, item.events, count))
        previous = item


__all__ = ["AuditReport", "Finding", "audit", "verify"]
