"""Structured logging (structlog), configured once, with personal data redacted.

Production output is JSON lines; a terminal gets structlog's console renderer. Every event passes
through :func:`redact`, which removes citizen ID numbers, phone numbers and applicant names
whatever key they sit under.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

#: Keys whose values are personal data and are always dropped.
PERSONAL_KEYS = frozenset(
    {
        "applicant",
        "applicant_name",
        "applicant_id_number",
        "applicant_phone",
        "name",
        "id_number",
        "phone",
        "citizen_id",
    }
)
# 12-digit citizen identity numbers and 9-digit old ID cards; VN phone numbers (0xx / +84xx).
_ID_NUMBER = re.compile(r"(?<!\d)(\d{12}|\d{9})(?!\d)")
_PHONE = re.compile(r"(?<![\d+])(\+84|0)\d{9,10}(?!\d)")
REDACTED = "[redacted]"


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _ID_NUMBER.sub(REDACTED, _PHONE.sub(REDACTED, value))
    if isinstance(value, dict):
        return {k: REDACTED if k in PERSONAL_KEYS else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop personal keys, mask ID and phone numbers in every string."""
    for key in list(event_dict):
        event_dict[key] = REDACTED if key in PERSONAL_KEYS else _scrub(event_dict[key])
    return event_dict


def configure(json: bool | None = None, level: int | str = logging.INFO) -> None:
    """Configure structlog for onestop; call once at program start.

    Args:
        json: JSON lines (production) or console output; default JSON unless stderr is a TTY.
        level: Minimum level logged.
    """
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
    if json is None:
        json = not sys.stderr.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
