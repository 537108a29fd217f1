"""Typed errors raised by onestop.

Every error a caller can provoke with bad input is a subclass of :class:`OnestopError`
and says what is wrong and where. Commands that raise one have changed nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class OnestopError(Exception):
    """Base class of every error onestop raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a definition file.

    Attributes:
        file: The file the problem is in (or ``"<memory>"``).
        path: Dotted key path inside the file, e.g. ``procedures[3].route[1].agency``.
        reason: What is wrong, in one sentence.
    """

    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.reason}"


class DefinitionError(OnestopError):
    """A definition (units, procedures, routes, overrides, scenario) is invalid.

    Attributes:
        problems: Every problem found, each with file, key path and reason.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = [str(p) for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"... and {len(self.problems) - 20} more")
        super().__init__("\n".join(lines))


class CalendarRangeError(OnestopError, ValueError):
    """A date falls outside the years the calendar was built for."""


class ValidationError(OnestopError, ValueError):
    """A command argument is invalid.

    Attributes:
        field: The argument that is wrong.
        reason: What is wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class UnknownProcedure(OnestopError, LookupError):
    """No procedure with that code is in the catalog."""


class UnknownUnit(OnestopError, LookupError):
    """No administrative unit or agency with that code exists."""


class AbolishedUnit(UnknownUnit):
    """The unit no longer exists on that day (a reorganisation abolished or merged it).

    Attributes:
        unit: The old unit's code.
        successors: The units that succeed it, most direct first.
    """

    def __init__(self, unit: str, effective: str, successors: Sequence[str]) -> None:
        self.unit = unit
        self.successors = tuple(successors)
        named = ", ".join(self.successors) or "none named in the mapping"
        super().__init__(
            f"unit {unit!r} was abolished or merged on {effective}; successor(s): {named}"
        )


class UnknownDossier(OnestopError, LookupError):
    """No dossier with that id exists."""


class LeaseHeld(OnestopError):
    """Another scheduler instance holds the database's scheduler lease."""


class InvalidTransition(OnestopError):
    """The trigger is not allowed in the dossier's current status.

    Attributes:
        trigger: The trigger that was refused.
        status: The dossier's status when it was refused.
    """

    def __init__(self, trigger: str, status: str, detail: str = "") -> None:
        self.trigger = trigger
        self.status = status
        msg = f"{trigger!r} is not allowed when the dossier is {status!r}"
        super().__init__(f"{msg}: {detail}" if detail else msg)


class NotAllowedHere(OnestopError):
    """The procedure may not be received at that unit (location-independent intake not allowed)."""


class StaleVersion(OnestopError):
    """The dossier changed since the caller read it (optimistic locking).

    Attributes:
        dossier_id: The dossier concerned.
        expected: The version the caller expected.
        actual: The version found in the store (``None`` when unknown).
    """

    def __init__(self, dossier_id: int, expected: int, actual: int | None) -> None:
        self.dossier_id = dossier_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"dossier {dossier_id} is at version {actual}, the command expected {expected}"
        )


class AuditKeyError(OnestopError):
    """No usable audit key (missing, unreadable or malformed), with how to make one."""


class AnchorError(OnestopError):
    """An anchor was refused: its day is already anchored or not over yet."""


class SchemaOutOfDate(OnestopError):
    """The database was written by another version of onestop: its schema is not the one this
    version reads (``onestop migrate`` brings an older one up to date)."""


class IdempotencyKeyReused(OnestopError):
    """An idempotency key was used again by the same user for the same command on the same
    dossier, but with other arguments: the retry is not the same request, so neither its result
    nor the first one is returned.

    Attributes:
        command: The command the key was used for.
        dossier_id: The dossier (``None`` for a command creating one).
    """

    def __init__(self, command: str, dossier_id: int | None) -> None:
        self.command = command
        self.dossier_id = dossier_id
        where = "a new dossier" if dossier_id is None else f"dossier {dossier_id}"
        super().__init__(
            f"idempotency_key: already used for {command!r} on {where} with other arguments; "
            "use a new key for a new request"
        )


class VaultKeyError(OnestopError):
    """No usable personal-data vault key (missing, unreadable or malformed), with how to make
    one; or personal data given to an engine that has none."""


class ExecutorUnavailable(OnestopError):
    """The executor asked for cannot be used: not ``local`` nor ``dask://HOST:PORT``, Dask not
    installed, no scheduler answering at that address, or its workers failed every retry."""


class UnknownFeedback(OnestopError, LookupError):
    """No citizen feedback item has that id."""


class ImportRowsError(OnestopError, ValueError):
    """An imported file (e.g. the city's survey forms) has bad rows; nothing was imported.

    Attributes:
        problems: Every bad row, each with the file, ``line N`` (and column) and the reason.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = [str(p) for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"... and {len(self.problems) - 20} more")
        super().__init__("\n".join(lines))
