"""XES (IEEE 1849-2016) event logs, written as a stream: one trace per dossier.

Each event carries ``concept:name`` (the activity, see :mod:`onestop.export_log`),
``time:timestamp``, ``lifecycle:transition`` (``complete``: a command is an instantaneous
activity) and ``org:resource`` (an agency code or the role ``applicant``); each trace carries the
dossier's codes (procedure, level, units, channel...) and its timeliness. The file is built
next to its destination and moved into place when complete.
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape, quoteattr

from onestop.export_log import Case, LogContext, partial_file, publish

#: The standard extensions the log declares (name, prefix, URI).
EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
)
_EPOCH = "1970-01-01T00:00:00.000+00:00"


#: Characters escaped in attribute values (as :func:`xml.sax.saxutils.quoteattr` does).
_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


@lru_cache(maxsize=65_536)
def _escaped(value: str) -> str:
    # Codes, statuses and activity names repeat on every trace: each is escaped once.
    return escape(value, _ENTITIES)


def _stamp(at: datetime) -> str:
    # Digits, '-', ':', '.', '+' and 'T' only: nothing to escape.
    return at.isoformat(timespec="milliseconds")


def _attr(kind: str, key: str, value: str) -> str:
    return f"<{kind} key={quoteattr(key)} value={quoteattr(value)}/>"


def _string(key: str, value: str) -> str:
    return f'<string key="{key}" value="{_escaped(value)}"/>'


class XesWriter:
    """Writes one XES file, a trace at a time.

    Args:
        path: The destination (replaced when the log is complete).
        context: The period, instant and unit exported.
    """

    def __init__(self, path: Path, context: LogContext) -> None:
        self.path = path
        fd, self._tmp = partial_file(path)
        self._fh: IO[str] = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        name = f"onestop {context.period.label}" + (f" {context.unit}" if context.unit else "")
        head = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">',
            *(
                f"<extension name={quoteattr(n)} prefix={quoteattr(p)} uri={quoteattr(u)}/>"
                for n, p, u in EXTENSIONS
            ),
            '<global scope="trace">',
            _attr("string", "concept:name", "UNKNOWN"),
            "</global>",
            '<global scope="event">',
            _attr("string", "concept:name", "UNKNOWN"),
            _attr("date", "time:timestamp", _EPOCH),
            _attr("string", "lifecycle:transition", "complete"),
            _attr("string", "org:resource", "UNKNOWN"),
            "</global>",
            '<classifier name="Activity" keys="concept:name"/>',
            '<classifier name="Resource" keys="org:resource"/>',
            _attr("string", "concept:name", name),
            _attr("string", "onestop:as_of", _stamp(context.as_of)),
        ]
        self._fh.write("\n".join(head) + "\n")

    def write(self, case: Case) -> None:
        """Write one dossier as a trace."""
        # Keys are constants written here; values go through _escaped (timestamps need none).
        parts = ["<trace>", f'<string key="concept:name" value="{case.id}"/>']
        for key, value in case.attributes.items():
            if isinstance(value, int):
                parts.append(f'<int key="onestop:{key}" value="{value}"/>')
            else:
                parts.append(_string(f"onestop:{key}", value))
        if case.applicant is not None:
            # Hex digits: nothing to escape, and one per applicant (kept out of the cache).
            parts.append(f'<string key="onestop:applicant" value="{case.applicant}"/>')
        for e in case.events:
            parts.append("<event>")
            parts.append(_string("concept:name", e.activity))
            parts.append(f'<date key="time:timestamp" value="{_stamp(e.at)}"/>')
            parts.append('<string key="lifecycle:transition" value="complete"/>')
            parts.append(_string("org:resource", e.resource))
            parts.append(_string("onestop:trigger", e.trigger))
            parts.append(_string("onestop:from_status", e.from_status))
            parts.append(_string("onestop:to_status", e.to_status))
            if e.step is not None:
                parts.append(_string("onestop:step", case.steps[e.step]["step_code"]))
            if e.holder is not None:
                parts.append(_string("onestop:holder", e.holder))
            parts.append("</event>")
        parts.append("</trace>\n")
        self._fh.write("".join(parts))

    def close(self) -> None:
        """End the log and move the file into place."""
        self._fh.write("</log>\n")
        self._fh.close()
        publish(self._tmp, self.path)

    def abort(self) -> None:
        """Remove the partial file."""
        self._fh.close()
        self._tmp.unlink(missing_ok=True)
