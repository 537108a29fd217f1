"""Event logs for process-mining tools: what a dossier's history looks like as a case.

:func:`export_log` streams the dossiers created in a period, with their events up to an instant
(by default the period's end, as the reports do, so a closed period exports the same whenever it
runs), to one of three formats: XES (:mod:`onestop.export_xes`), OCEL 2.0 JSON or OCEL 2.0
SQLite (:mod:`onestop.export_ocel`). Memory stays flat in the size of the log: the store reads
pages of dossiers (:func:`onestop.store.traces.traces`) and the writers write each case as it
comes.

What a case shows (the same in every format):

* **activity**: the command's trigger; a hand-over to the next step of the route is
  ``complete_step:<step entered>``, so a directly-follows graph draws the route as written in
  the catalog (``receive → complete_step:review → complete_step:tax → ...``);
* **resource**: who acted, as an agency code (the holder before the command, or the intake desk
  for the first event) or the role ``applicant`` for the applicant's own acts — never a person;
* **timeliness**: the core's classification (:mod:`onestop.timeliness`): the one made at
  resolution, or for a dossier open at the instant, in time or overdue by the one predicate;
* **applicant**: a keyed pseudonym (HMAC-SHA256, under a key drawn afresh for each export
  unless one is given, of the vault's blind index of the ID number, else of the dossier's vault
  reference), so one citizen's dossiers can be linked inside an export but not traced back to
  a person; names and ID numbers are never read.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from onestop.errors import ValidationError
from onestop.periods import Period
from onestop.status import OPEN_STATUSES, Status
from onestop.store import Store
from onestop.store import traces as store_traces
from onestop.timeliness import Timeliness, is_overdue

FORMATS = ("xes", "ocel2-json", "ocel2-sqlite")
#: Triggers the applicant performs (their resource is the role ``applicant``).
APPLICANT_TRIGGERS = frozenset({"submit_online", "supplement", "pay", "withdraw", "rate"})
#: The trigger that hands a dossier over to the next step of its route.
HAND_OVER = "complete_step"


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One event of a case.

    Attributes:
        id: The event's row id.
        at: When (Asia/Ho_Chi_Minh).
        activity: The activity label (see the module docstring).
        trigger: The command's trigger.
        resource: The acting agency's code, or ``applicant``.
        from_status: Status before.
        to_status: Status after.
        holder: The agency holding the dossier after the event.
        step: The route step (``dossier_steps.seq``) the dossier is at after the event.
        completed_step: The step this event finished (a hand-over or the resolution).
        intake_unit: The unit where the dossier was received (first event only).
    """

    id: int
    at: datetime
    activity: str
    trigger: str
    resource: str
    from_status: str
    to_status: str
    holder: str | None
    step: int | None
    completed_step: int | None
    intake_unit: str | None


@dataclass(frozen=True, slots=True)
class Case:
    """One dossier as a case of the log.

    Attributes:
        id: The dossier's id.
        attributes: Procedure, version, field, level, units, channel, intake mode, return
            method, status and timeliness at the instant (codes, never personal data).
        applicant: The applicant's pseudonym, if the dossier names one.
        events: Its events, oldest first.
        steps: Its route steps by ``seq``: ``{seq: {step_code, agency, due_at, timeliness}}``.
    """

    id: int
    attributes: dict[str, str | int]
    applicant: str | None
    events: list[LogEvent]
    steps: dict[int, dict[str, Any]]


class Pseudonyms:
    """Keyed pseudonyms of applicants: ``HMAC-SHA256(key, applicant key)``, 20 hex digits.

    An unkeyed hash of a 12-digit ID number is reversed by trying every number; under a secret
    key it is not. Without ``key`` one is drawn at random and forgotten with the export.

    Args:
        key: The secret (at least 16 bytes), to get the same pseudonyms in several exports.

    Raises:
        ValidationError: If the key is shorter than 16 bytes.
    """

    def __init__(self, key: bytes | None = None) -> None:
        if key is not None and len(key) < 16:
            raise ValidationError("pseudonym key", "must be at least 16 bytes")
        self._key = key if key is not None else os.urandom(32)

    def __call__(self, applicant_key: str) -> str:
        """The pseudonym of the applicant whose key (ID number or name) is ``applicant_key``."""
        digest = hmac.new(self._key, applicant_key.encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()[:20]


def case_timeliness(
    dossier: dict[str, Any], last: dict[str, Any], as_of: datetime
) -> Timeliness | None:
    """The dossier's timeliness at ``as_of``: the classification made at resolution, else for an
    open dossier in time or overdue (:func:`onestop.timeliness.is_overdue`, on its state after
    its last event), else none (refused, withdrawn)."""
    resolved_at = dossier["resolved_at"]
    if resolved_at is not None and resolved_at < as_of and dossier["timeliness"]:
        return Timeliness(dossier["timeliness"])
    status = Status(last["to_status"])
    if status not in OPEN_STATUSES:
        return None
    overdue = is_overdue(status, last["due_at"], last["paused_at"], as_of)
    return Timeliness.OVERDUE if overdue else Timeliness.IN_TIME


def to_case(trace: store_traces.Trace, as_of: datetime, pseudonyms: Pseudonyms) -> Case:
    """The case of one dossier read by :func:`onestop.store.traces.traces`."""
    d = trace.dossier
    steps = {
        s["seq"]: {
            "step_code": s["step_code"],
            "agency": s["agency"],
            "due_at": s["due_at"],
            # A step finished after the instant is still running at it.
            "timeliness": s["timeliness"]
            if s["completed_at"] is not None and s["completed_at"] < as_of
            else None,
        }
        for s in trace.steps
    }
    out: list[LogEvent] = []
    previous: dict[str, Any] | None = None
    for e in trace.events:
        trigger, index = e["trigger"], e["step_index"]
        step = index if index in steps else None
        activity = trigger
        completed: int | None = None
        if trigger == HAND_OVER and step is not None:
            activity = f"{trigger}:{steps[step]['step_code']}"
            before = previous["step_index"] if previous else index - 1
            completed = before if before in steps else None
        elif trigger == "resolve":
            completed = step
        if trigger in APPLICANT_TRIGGERS:
            resource = "applicant"
        else:
            holder_before = previous["agency"] if previous else None
            resource = holder_before or e["agency"] or e["unit"] or d["competent_unit"]
        out.append(
            LogEvent(
                id=e["id"],
                at=e["at"],
                activity=activity,
                trigger=trigger,
                resource=resource,
                from_status=e["from_status"],
                to_status=e["to_status"],
                holder=e["agency"],
                step=step,
                completed_step=completed,
                intake_unit=e["unit"] if previous is None else None,
            )
        )
        previous = e
    attributes: dict[str, str | int] = {
        "procedure": d["procedure_code"],
        "procedure_version": int(d["procedure_version"]),
        "field": d["field"],
        "level": d["level"],
        "competent_unit": d["competent_unit"],
        "intake_unit": d["intake_unit"],
        "channel": d["channel"],
        "intake_mode": d["intake_mode"],
        "return_method": d["return_method"],
    }
    if trace.events:
        last = trace.events[-1]
        attributes["status"] = last["to_status"]
        timeliness = case_timeliness(d, last, as_of)
        if timeliness is not None:
            attributes["timeliness"] = timeliness.value
    key = d.get("applicant_key")
    applicant = pseudonyms(key) if key else None
    return Case(d["id"], attributes, applicant, out, steps)


@dataclass(frozen=True)
class LogContext:
    """What a writer needs besides the cases.

    Attributes:
        period: The period exported.
        as_of: The instant the log describes.
        unit: The competent unit, for a per-unit file.
        agencies: Stored agencies by code (name, unit, role).
        units: Stored units by code (name, level).
        applicants: Streams the pseudonyms of the export's applicants, each once.
    """

    period: Period
    as_of: datetime
    unit: str | None
    agencies: dict[str, dict[str, Any]]
    units: dict[str, dict[str, Any]]
    applicants: Callable[[], Iterator[str]] = field(repr=False)


class LogWriter(Protocol):
    """A streaming writer of one format: cases one by one, then :meth:`close`."""

    def write(self, case: Case) -> None:
        """Write one case."""

    def close(self) -> None:
        """Finish the file (and move it into place)."""

    def abort(self) -> None:
        """Remove what was written."""


@dataclass(frozen=True)
class Exported:
    """One file written: its path and how many cases and events it holds."""

    path: Path
    cases: int
    events: int


def _writer(fmt: str, path: Path, context: LogContext) -> LogWriter:
    if fmt == "xes":
        from onestop.export_xes import XesWriter

        return XesWriter(path, context)
    from onestop.export_ocel import OcelJsonWriter, OcelSqliteWriter

    if fmt == "ocel2-json":
        return OcelJsonWriter(path, context)
    return OcelSqliteWriter(path, context)


def partial_file(path: Path, suffix: str = ".part") -> tuple[int, Path]:
    """A new file beside ``path`` (same file system, so :func:`publish` is an atomic rename):
    its descriptor and path."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    return fd, Path(name)


def publish(partial: Path, path: Path) -> None:
    """Move a finished file into place, with the permissions a new file gets (``mkstemp``
    makes it private)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(partial, 0o666 & ~umask)
    os.replace(partial, path)


def unit_path(out: Path, unit: str) -> Path:
    """The file of one unit in a ``--by unit`` export: the unit code before the extension
    (``log.xes`` → ``log.92.NK.xes``)."""
    return out.with_name(f"{out.stem}.{unit}{out.suffix}")


def export_log(
    store: Store,
    fmt: str,
    period: Period,
    out: Path,
    *,
    by_unit: bool = False,
    as_of: datetime | None = None,
    key: bytes | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Exported]:
    """Write the event log of the dossiers created in ``period``.

    Args:
        store: The database.
        fmt: ``xes``, ``ocel2-json`` or ``ocel2-sqlite``.
        period: Dossiers created in it are exported.
        out: The file to write (replaced). With ``by_unit``, one file per competent unit, named
            by :func:`unit_path`.
        by_unit: One file per competent unit instead of one file.
        as_of: The instant the log describes (default: the period's end); later events are
            left out.
        key: Pseudonym key (default: a random one, forgotten after the export).
        progress: Called with (dossiers done, dossiers in all) as the export proceeds.

    Raises:
        ValidationError: If the format is unknown, or the output's directory does not exist.
    """
    if fmt not in FORMATS:
        raise ValidationError("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    if not out.parent.is_dir():
        raise ValidationError("out", f"the directory {out.parent} does not exist")
    since, until = period.bounds
    instant = until if as_of is None else min(as_of, until)
    pseudonyms = Pseudonyms(key)
    written: list[Exported] = []
    with store.read() as uow:
        agencies, units = store_traces.directory(uow)
        total = store_traces.count(uow, since, instant)
        chosen = store_traces.competent_units(uow, since, instant) if by_unit else [None]
        done = 0
        for unit in chosen:

            def applicants(unit: str | None = unit) -> Iterator[str]:
                for k in store_traces.applicant_keys(uow, since, instant, unit):
                    yield pseudonyms(k)

            context = LogContext(period, instant, unit, agencies, units, applicants)
            path = out if unit is None else unit_path(out, unit)
            writer = _writer(fmt, path, context)
            cases = events = 0
            try:
                for trace in store_traces.traces(uow, since, instant, unit=unit):
                    case = to_case(trace, instant, pseudonyms)
                    writer.write(case)
                    cases += 1
                    events += len(case.events)
                    done += 1
                    if progress is not None and done % 500 == 0:
                        progress(done, total)
                writer.close()
            except BaseException:
                writer.abort()
                raise
            written.append(Exported(path, cases, events))
    if progress is not None:
        progress(done, total)
    return written
