"""Satisfaction: ratings of returned dossiers and of feedback answers, and the city's own
survey forms.

Every answer is a row of the ``satisfaction`` table with its score (1–5), the channel it came
through and when; a free-text comment is kept there only — not in the event chain (so it can be
erased) and never logged. A returned dossier's rating is also recorded on the dossier by the
engine's ``rate`` command, in the same transaction (:func:`rate_dossier`); a feedback answer's
by :meth:`onestop.feedback_commands.FeedbackDesk.rate`.

Survey import (``onestop survey import FILE``) reads a CSV with the header
``form_id,answered_on,unit,score,channel,comment`` (``comment`` may be empty): every row is
checked first, and one bad row refuses the whole file with its line number (nothing imported).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, get_args

import structlog
from sqlalchemy import select

from onestop.clock import VN_TZ, local_date
from onestop.dossier import Dossier
from onestop.engine import Engine
from onestop.errors import ImportRowsError, Problem, ValidationError
from onestop.feedback import RatingChannel
from onestop.inputs import day as valid_day
from onestop.store import feedback_rows
from onestop.store.schema import satisfaction
from onestop.units import Units

log = structlog.get_logger("onestop.satisfaction")

HEADER = ("form_id", "answered_on", "unit", "score", "channel", "comment")
CHANNELS: tuple[str, ...] = get_args(RatingChannel)
#: A survey file larger than this is refused before it is read.
MAX_BYTES = 20 * 1024 * 1024


def rate_dossier(
    engine: Engine,
    dossier_id: int,
    score: int,
    channel: str,
    *,
    comment: str | None = None,
    **options: Any,
) -> Dossier:
    """Record a returned dossier's rating with its channel and time, in one transaction.

    Raises:
        ValidationError: If ``channel`` or ``comment`` is invalid (before anything is written).
        InvalidTransition, UnknownDossier, Forbidden: As :meth:`Engine.rate`.
    """
    if channel not in CHANNELS:
        raise ValidationError("channel", f"{channel!r} is not one of {', '.join(CHANNELS)}")
    if comment is not None and not 0 < len(comment.strip()) <= 2000:
        raise ValidationError("comment", "must be 1 to 2000 characters")
    with engine.batch():
        dossier = engine.rate(dossier_id, score, **options)
        now = engine.clock.now()
        with engine.store.write() as uow:
            feedback_rows.insert_rating(
                uow.conn,
                {"kind": "dossier", "case_id": dossier.id, "form_id": None,
                 "unit": dossier.competent_unit, "level": dossier.level, "score": score,
                 "channel": channel, "answered_at": now, "answered_on": local_date(now),
                 "comment": comment.strip() if comment else None},
            )  # fmt: skip
    log.debug("satisfaction.rated", kind="dossier", dossier_id=dossier.id, channel=channel)
    return dossier


def read_survey(path: Path, units: Units) -> list[dict[str, Any]]:
    """Parse and check every row of a survey CSV.

    Raises:
        ImportRowsError: Naming the file, ``line N`` and column of every bad row.
    """
    name = str(path)
    if not path.is_file():
        raise ImportRowsError([Problem(name, "", "no such file")])
    if path.stat().st_size > MAX_BYTES:
        raise ImportRowsError([Problem(name, "", f"larger than {MAX_BYTES} bytes")])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRowsError([Problem(name, "", f"not UTF-8 text ({exc.reason})")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise ImportRowsError([Problem(name, "line 1", f"header must be {','.join(HEADER)}")])
    problems: list[Problem] = []
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, fields_ in enumerate(reader, start=2):
        if not any(f.strip() for f in fields_):
            continue
        where = f"line {number}"
        if len(fields_) != len(HEADER):
            problems.append(Problem(name, where, f"{len(fields_)} columns, expected 6"))
            continue
        row, bad = _survey_row(dict(zip(HEADER, (f.strip() for f in fields_), strict=True)), units)
        if bad:
            problems.extend(Problem(name, f"{where}.{col}", why) for col, why in bad)
            continue
        if row["form_id"] in seen:
            problems.append(
                Problem(name, f"{where}.form_id", f"duplicate of line {seen[row['form_id']]}")
            )
            continue
        seen[row["form_id"]] = number
        rows.append(row)
    if problems:
        raise ImportRowsError(problems)
    return rows


def _survey_row(raw: dict[str, str], units: Units) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    bad: list[tuple[str, str]] = []
    if not 0 < len(raw["form_id"]) <= 100:
        bad.append(("form_id", "must be 1 to 100 characters"))
    answered: date | None = None
    try:
        answered = valid_day(date.fromisoformat(raw["answered_on"]), "answered_on")
    except (ValueError, ValidationError) as exc:
        bad.append(("answered_on", f"not a date YYYY-MM-DD ({exc})"))
    if not units.has_unit(raw["unit"]):
        bad.append(("unit", f"unknown unit {raw['unit']!r}"))
    score = int(raw["score"]) if raw["score"] in {"1", "2", "3", "4", "5"} else None
    if score is None:
        bad.append(("score", f"{raw['score']!r} is not 1, 2, 3, 4 or 5"))
    if raw["channel"] not in CHANNELS:
        bad.append(("channel", f"{raw['channel']!r} is not one of {', '.join(CHANNELS)}"))
    if len(raw["comment"]) > 2000:
        bad.append(("comment", "longer than 2000 characters"))
    if bad or answered is None:
        return {}, bad
    at = datetime.combine(answered, time(12, 0), VN_TZ)  # the form gives the day only
    return {
        "kind": "survey", "case_id": None, "form_id": raw["form_id"], "unit": raw["unit"],
        "level": units.unit(raw["unit"]).level, "score": score, "channel": raw["channel"],
        "answered_at": at, "answered_on": answered, "comment": raw["comment"] or None,
    }, []  # fmt: skip


def import_survey(engine: Engine, path: Path) -> int:
    """Import a survey CSV in one transaction; the number of forms imported.

    Raises:
        ImportRowsError: If any row is bad, or a form id was imported before (nothing is
            imported then).
    """
    rows = read_survey(path, engine.units)
    with engine.store.write() as uow:
        ids = [r["form_id"] for r in rows]
        known: set[str] = set()
        for i in range(0, len(ids), 500):
            query = select(satisfaction.c.form_id).where(
                satisfaction.c.kind == "survey", satisfaction.c.form_id.in_(ids[i : i + 500])
            )
            known.update(str(v) for v in uow.conn.execute(query).scalars())
        if known:
            first = sorted(known)[:5]
            raise ImportRowsError(
                [Problem(str(path), "form_id", f"already imported: {', '.join(first)}")]
            )
        if rows:
            uow.conn.execute(satisfaction.insert(), rows)
    log.info("satisfaction.survey_imported", forms=len(rows))
    return len(rows)
