"""A sign of tampering found by :func:`onestop.audit.audit`, naming what was touched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from onestop.clock import VN_TZ


def local_time(moment: datetime, spec: str = "%Y-%m-%d %H:%M") -> str:
    """``moment`` in Vietnam time, for a finding's detail."""
    return format(moment.astimezone(VN_TZ), spec)


@dataclass(frozen=True)
class Finding:
    """One sign of tampering.

    Attributes:
        dossier_id: The dossier concerned (minus a feedback item's id; ``None`` when the
            finding is about a table, or an anchor).
        seq: The first event that does not check out (``None`` when not about one event).
        problem: What kind of sign: ``edited``, ``deleted``, ``inserted``, ``row_edited``,
            ``steps_edited``, ``result_edited``, ``alert_orphaned``, ``alert_unjustified``,
            ``alert_edited``, ``job_run_edited``, ``job_run_overlap``, ``rollup_edited``,
            ``anchor_mismatch``, ...
        detail: What exactly failed.
        table: The table concerned when the finding is not about a dossier (``job_runs``,
            ``daily_rollups``); ``None`` for a dossier's or an anchor's.
    """

    dossier_id: int | None
    seq: int | None
    problem: str
    detail: str
    table: str | None = None

    def __str__(self) -> str:
        where = (
            f"dossier {self.dossier_id}"
            if self.dossier_id is not None
            else (self.table or "anchor")
        )
        at = f" event {self.seq}" if self.seq is not None else ""
        return f"{where}{at}: {self.problem} ({self.detail})"
