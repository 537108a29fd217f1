"""OCEL 2.0 object-centric event logs, written as a stream: JSON or the relational SQLite form.

Object types: ``dossier``, ``step`` (a step of a dossier's route), ``agency``, ``unit`` and
``applicant`` (a keyed pseudonym, see :class:`onestop.export_log.Pseudonyms`). Each event is
linked to the objects it touches, with a qualifier: its ``dossier``; the step it ``enters``,
happens ``at`` or ``completes``; the agency acting (``by``) and the one the dossier goes ``to``
(so an inter-agency chain shows each agency as an object); the ``applicant`` on intake and on
the applicant's own acts; the ``intake unit`` on intake. Objects are linked too: a dossier to its
competent and intake units and applicant, a step to its dossier and agency, an agency to its
unit.

The SQLite file follows the OCEL 2.0 specification's tables: ``event``, ``object``,
``event_object``, ``object_object``, ``event_map_type``, ``object_map_type``, one
``event_<type>`` per event type and one ``object_<type>`` per object type. Both files are built
next to their destination and moved into place when complete.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from onestop.export_log import APPLICANT_TRIGGERS, Case, LogContext, partial_file, publish

#: Attribute names and OCEL types of each object type.
OBJECT_TYPES: dict[str, tuple[tuple[str, str], ...]] = {
    "dossier": (
        ("procedure", "string"),
        ("procedure_version", "integer"),
        ("field", "string"),
        ("level", "string"),
        ("competent_unit", "string"),
        ("intake_unit", "string"),
        ("channel", "string"),
        ("intake_mode", "string"),
        ("return_method", "string"),
        ("status", "string"),
        ("timeliness", "string"),
    ),
    "step": (("step_code", "string"), ("due_at", "time"), ("timeliness", "string")),
    "agency": (("name", "string"), ("role", "string")),
    "unit": (("name", "string"), ("level", "string")),
    "applicant": (),
}
#: Attribute names and OCEL types of every event type.
EVENT_ATTRIBUTES = (
    ("trigger", "string"),
    ("resource", "string"),
    ("from_status", "string"),
    ("to_status", "string"),
)
#: The time of an object's initial attribute values (the specification's convention).
EPOCH = "1970-01-01T00:00:00Z"

Relation = tuple[str, str]  # (object id, qualifier)
_encode = json.JSONEncoder().encode
#: Cases per SQLite transaction, and shared objects per write.
_CASES_PER_COMMIT = 1000


@dataclass(frozen=True, slots=True)
class OcelObject:
    """An object: id, type, attributes (initial values) and relationships to other objects."""

    id: str
    type: str
    attributes: dict[str, Any]
    relationships: list[Relation]


@dataclass(frozen=True, slots=True)
class OcelEvent:
    """An event: id, type (the activity), time, attributes and relationships to objects."""

    id: str
    type: str
    time: datetime
    attributes: dict[str, str]
    relationships: list[Relation]


def dossier_id(case_id: int) -> str:
    """The object id of a dossier."""
    return f"dossier:{case_id}"


def agency_id(code: str) -> str:
    """The object id of an agency."""
    return f"agency:{code}"


def unit_id(code: str) -> str:
    """The object id of a unit."""
    return f"unit:{code}"


def applicant_id(pseudonym: str) -> str:
    """The object id of an applicant (their pseudonym)."""
    return f"applicant:{pseudonym}"


def _step_id(case_id: int, seq: int) -> str:
    return f"step:{case_id}:{seq}"


def _add(relations: list[Relation], relation: Relation) -> None:
    if relation not in relations:
        relations.append(relation)


class Mapping:
    """Turns cases into OCEL events and objects, remembering the agencies and units referenced
    (a few hundred at most) so that :meth:`shared_objects` can write them once at the end."""

    def __init__(self, context: LogContext) -> None:
        self.context = context
        self.agencies: set[str] = set()
        self.units: set[str] = set()
        self.event_types: set[str] = set()

    def case(self, case: Case) -> tuple[list[OcelEvent], list[OcelObject]]:
        """The events of ``case`` and its own objects (the dossier and its steps)."""
        did = dossier_id(case.id)
        attrs = case.attributes
        competent, intake = str(attrs["competent_unit"]), str(attrs["intake_unit"])
        self.units.update((competent, intake))
        rel: list[Relation] = [(unit_id(competent), "competent unit")]
        _add(rel, (unit_id(intake), "intake unit"))
        if case.applicant is not None:
            rel.append((applicant_id(case.applicant), "applicant"))
        objects = [OcelObject(did, "dossier", dict(attrs), rel)]
        for seq, step in case.steps.items():
            self.agencies.add(step["agency"])
            step_attrs = {"step_code": step["step_code"], "due_at": step["due_at"]}
            if step["timeliness"]:
                step_attrs["timeliness"] = step["timeliness"]
            links = [(did, "part of"), (agency_id(step["agency"]), "handled by")]
            objects.append(OcelObject(_step_id(case.id, seq), "step", step_attrs, links))
        events: list[OcelEvent] = []
        previous_step: int | None = None
        for index, e in enumerate(case.events):
            rel = [(did, "dossier")]
            if e.completed_step is not None:
                rel.append((_step_id(case.id, e.completed_step), "completes"))
            if e.step is not None and e.step != e.completed_step:
                entered = index == 0 or e.step != previous_step
                _add(rel, (_step_id(case.id, e.step), "enters" if entered else "at"))
            if e.resource != "applicant":
                self.agencies.add(e.resource)
                rel.append((agency_id(e.resource), "by"))
            if e.holder is not None and e.holder != e.resource:
                self.agencies.add(e.holder)
                rel.append((agency_id(e.holder), "to"))
            if case.applicant is not None and (index == 0 or e.trigger in APPLICANT_TRIGGERS):
                rel.append((applicant_id(case.applicant), "applicant"))
            if e.intake_unit is not None:
                self.units.add(e.intake_unit)
                rel.append((unit_id(e.intake_unit), "intake unit"))
            previous_step = e.step
            self.event_types.add(e.activity)
            event_attrs = {
                "trigger": e.trigger,
                "resource": e.resource,
                "from_status": e.from_status,
                "to_status": e.to_status,
            }
            events.append(OcelEvent(f"event:{e.id}", e.activity, e.at, event_attrs, rel))
        return events, objects

    def shared_objects(self) -> Iterator[OcelObject]:
        """The agencies and units referenced, then the applicants (each once)."""
        known_agencies, known_units = self.context.agencies, self.context.units
        for code in sorted(self.agencies):
            info = known_agencies.get(code)
            attrs = {"name": info["name"], "role": info["role"]} if info else {}
            links: list[Relation] = []
            if info and info["unit"]:
                self.units.add(info["unit"])
                links.append((unit_id(info["unit"]), "belongs to"))
            yield OcelObject(agency_id(code), "agency", attrs, links)
        for code in sorted(self.units):
            u = known_units.get(code)
            attrs = {"name": u["name"], "level": u["level"]} if u else {}
            yield OcelObject(unit_id(code), "unit", attrs, [])
        for pseudonym in self.context.applicants():
            yield OcelObject(applicant_id(pseudonym), "applicant", {}, [])


def _time(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class OcelJsonWriter:
    """Writes one OCEL 2.0 JSON file as a stream.

    Events go straight into the file; objects into a second file beside it, appended at the
    end; the type declarations (known only then) come last: JSON objects are unordered.

    Args:
        path: The destination (replaced when the log is complete).
        context: The period, instant, unit and stored directory.
    """

    def __init__(self, path: Path, context: LogContext) -> None:
        self.path = path
        self.mapping = Mapping(context)
        fd, self._tmp = partial_file(path, ".part")
        self._fh: IO[str] = os.fdopen(fd, "w", encoding="utf-8")
        ofd, self._objects_tmp = partial_file(path, ".objects")
        self._objects: IO[str] = os.fdopen(ofd, "w+", encoding="utf-8")
        self._fh.write('{"events":[\n')
        self._first_event = self._first_object = True

    def _write_objects(self, objects: list[OcelObject]) -> None:
        if not objects:
            return
        records = [
            {
                "id": obj.id,
                "type": obj.type,
                "attributes": [
                    {"name": k, "time": EPOCH, "value": _time(v)}
                    for k, v in obj.attributes.items()
                    if v is not None
                ],
                "relationships": [{"objectId": o, "qualifier": q} for o, q in obj.relationships],
            }
            for obj in objects
        ]
        # One encoding per case: the list's brackets are dropped, its commas kept.
        self._objects.write(("" if self._first_object else ",\n") + _encode(records)[1:-1])
        self._first_object = False

    def write(self, case: Case) -> None:
        """Write one dossier's events and objects."""
        events, objects = self.mapping.case(case)
        records = [
            {
                "id": e.id,
                "type": e.type,
                "time": e.time.isoformat(),
                "attributes": [{"name": k, "value": v} for k, v in e.attributes.items()],
                "relationships": [{"objectId": o, "qualifier": q} for o, q in e.relationships],
            }
            for e in events
        ]
        if records:
            self._fh.write(("" if self._first_event else ",\n") + _encode(records)[1:-1])
            self._first_event = False
        self._write_objects(objects)

    def close(self) -> None:
        """Append the objects and the type declarations, and move the file into place."""
        batch: list[OcelObject] = []
        for obj in self.mapping.shared_objects():
            batch.append(obj)
            if len(batch) >= _CASES_PER_COMMIT:
                self._write_objects(batch)
                batch.clear()
        self._write_objects(batch)
        self._fh.write('\n],"objects":[\n')
        self._objects.seek(0)
        shutil.copyfileobj(self._objects, self._fh)
        self._objects.close()
        self._objects_tmp.unlink()
        object_types = [
            {"name": name, "attributes": [{"name": a, "type": t} for a, t in attrs]}
            for name, attrs in OBJECT_TYPES.items()
        ]
        event_attrs = [{"name": a, "type": t} for a, t in EVENT_ATTRIBUTES]
        event_types = [
            {"name": name, "attributes": event_attrs} for name in sorted(self.mapping.event_types)
        ]
        self._fh.write('\n],"objectTypes":' + json.dumps(object_types))
        self._fh.write(',"eventTypes":' + json.dumps(event_types) + "}\n")
        self._fh.close()
        publish(self._tmp, self.path)

    def abort(self) -> None:
        """Remove the partial files."""
        for fh, tmp in ((self._fh, self._tmp), (self._objects, self._objects_tmp)):
            fh.close()
            tmp.unlink(missing_ok=True)


def _table_name(type_name: str) -> str:
    """A type's table suffix: letters, digits and underscores (``complete_step:tax`` →
    ``complete_step_tax``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", type_name)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# The specification's type-independent tables, keys and (declared, not enforced) references.
_BASE_TABLES = (
    "CREATE TABLE event_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT)",
    "CREATE TABLE object_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT)",
    "CREATE TABLE event (ocel_id TEXT PRIMARY KEY, "
    "ocel_type TEXT REFERENCES event_map_type (ocel_type))",
    "CREATE TABLE object (ocel_id TEXT PRIMARY KEY, "
    "ocel_type TEXT REFERENCES object_map_type (ocel_type))",
    "CREATE TABLE event_object (ocel_event_id TEXT REFERENCES event (ocel_id), "
    "ocel_object_id TEXT REFERENCES object (ocel_id), ocel_qualifier TEXT, "
    "PRIMARY KEY (ocel_event_id, ocel_object_id, ocel_qualifier))",
    "CREATE TABLE object_object (ocel_source_id TEXT REFERENCES object (ocel_id), "
    "ocel_target_id TEXT REFERENCES object (ocel_id), ocel_qualifier TEXT, "
    "PRIMARY KEY (ocel_source_id, ocel_target_id, ocel_qualifier))",
)
_SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "float": "REAL", "time": "TIMESTAMP"}


class OcelSqliteWriter:
    """Writes one OCEL 2.0 SQLite file as a stream (one transaction per thousand cases).

    Args:
        path: The destination (replaced when the log is complete).
        context: The period, instant, unit and stored directory.
    """

    def __init__(self, path: Path, context: LogContext) -> None:
        self.path = path
        self.mapping = Mapping(context)
        fd, self._tmp = partial_file(path, ".part")
        os.close(fd)
        self._db = sqlite3.connect(self._tmp)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        for ddl in _BASE_TABLES:
            self._db.execute(ddl)
        self._object_sql: dict[str, str] = {}
        for name, attrs in OBJECT_TYPES.items():
            table = _quote("object_" + _table_name(name))
            cols = "".join(f", {_quote(a)} {_SQL_TYPES[t]}" for a, t in attrs)
            self._db.execute(
                f"CREATE TABLE {table} (ocel_id TEXT REFERENCES object (ocel_id), "
                f"ocel_time TIMESTAMP, ocel_changed_field TEXT{cols})"
            )
            self._db.execute("INSERT INTO object_map_type VALUES (?, ?)", (name, _table_name(name)))
            marks = ", ".join("?" * (len(attrs) + 3))
            self._object_sql[name] = f"INSERT INTO {table} VALUES ({marks})"
        self._event_sql: dict[str, str] = {}
        self._pending = 0

    def _event_table(self, type_name: str) -> str:
        sql = self._event_sql.get(type_name)
        if sql is None:
            mapped = _table_name(type_name)
            table = _quote("event_" + mapped)
            cols = "".join(f", {_quote(a)} {_SQL_TYPES[t]}" for a, t in EVENT_ATTRIBUTES)
            self._db.execute(
                f"CREATE TABLE {table} (ocel_id TEXT PRIMARY KEY REFERENCES event (ocel_id), "
                f"ocel_time TIMESTAMP{cols})"
            )
            self._db.execute("INSERT INTO event_map_type VALUES (?, ?)", (type_name, mapped))
            marks = ", ".join("?" * (len(EVENT_ATTRIBUTES) + 2))
            sql = self._event_sql[type_name] = f"INSERT INTO {table} VALUES ({marks})"
        return sql

    def _objects(self, objects: list[OcelObject]) -> None:
        db = self._db
        db.executemany("INSERT INTO object VALUES (?, ?)", [(o.id, o.type) for o in objects])
        by_table: dict[str, list[tuple[Any, ...]]] = {}
        for o in objects:
            values = [_time(o.attributes.get(a)) for a, _ in OBJECT_TYPES[o.type]]
            by_table.setdefault(self._object_sql[o.type], []).append((o.id, EPOCH, None, *values))
        for sql, rows in by_table.items():
            db.executemany(sql, rows)
        db.executemany(
            "INSERT OR IGNORE INTO object_object VALUES (?, ?, ?)",
            [(o.id, target, q) for o in objects for target, q in o.relationships],
        )

    def write(self, case: Case) -> None:
        """Write one dossier's events and objects."""
        events, objects = self.mapping.case(case)
        db = self._db
        db.executemany("INSERT INTO event VALUES (?, ?)", [(e.id, e.type) for e in events])
        by_table: dict[str, list[tuple[Any, ...]]] = {}
        for e in events:
            values = [e.attributes[a] for a, _ in EVENT_ATTRIBUTES]
            row = (e.id, e.time.isoformat(), *values)
            by_table.setdefault(self._event_table(e.type), []).append(row)
        for sql, rows in by_table.items():
            db.executemany(sql, rows)
        db.executemany(
            "INSERT OR IGNORE INTO event_object VALUES (?, ?, ?)",
            [(e.id, o, q) for e in events for o, q in e.relationships],
        )
        self._objects(objects)
        self._pending += 1
        if self._pending >= _CASES_PER_COMMIT:
            db.commit()
            self._pending = 0

    def close(self) -> None:
        """Add the agencies, units and applicants, and move the file into place."""
        batch: list[OcelObject] = []
        for obj in self.mapping.shared_objects():
            batch.append(obj)
            if len(batch) >= _CASES_PER_COMMIT:
                self._objects(batch)
                batch.clear()
        self._objects(batch)
        self._db.commit()
        self._db.close()
        publish(self._tmp, self.path)

    def abort(self) -> None:
        """Remove the partial file."""
        self._db.close()
        self._tmp.unlink(missing_ok=True)
