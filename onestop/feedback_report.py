"""The citizen feedback report: received, handled on time, late and in progress, by level,
unit, agency, topic... for any period, in the on-time report's formats (table, CSV, JSON,
text, HTML).

* **received**: items received in the period;
* **handled on time / late**: items handled in the period — answered within the agency's
  competence, forwarded to the competent agency, or rejected with a reason — judged once, when
  handled, by :func:`onestop.feedback.classify` (early or on time count as on time; an item whose
  limit was extended counts as late);
* **in progress**: received by the period's end and not handled by then (as of the period's
  end: a closed period's report is the same whenever it is run, since an item is handled once);
* **published**: handled in the period whose answer has been made public.

This is the shape of the city reports' table ("1,585 items in 2021–2025: 1,580 handled on time,
0 late, 5 in progress, every answer published").
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select

from onestop.periods import Period
from onestop.presentation import Lang, Names, count, name_of, percent
from onestop.report_charts import bar_chart
from onestop.report_sections import count_if
from onestop.reports import dimensions, group_order
from onestop.scorecard import UNSATISFIED_AT_MOST
from onestop.store import Store, queries
from onestop.store.schema import feedback_cases, satisfaction
from onestop.timeliness import on_time_rate

F = feedback_cases.c
S = satisfaction.c
#: Grouping dimensions and the column each reads.
DIMENSIONS: dict[str, Any] = {
    "level": F.level,
    "unit": F.unit,
    "agency": F.agency,
    "topic": F.topic,
    "subject": F.subject,
    "channel": F.channel,
    "outcome": F.outcome,
}
#: Which stored names label a dimension's codes.
_NAMES = {"level": "level", "unit": "unit", "agency": "agency", "topic": "field"}
COLUMNS = ("received", "on_time", "late", "in_progress", "forwarded", "rejected", "published")
_HEAD = {
    "received": ("Tiếp nhận", "Received"),
    "on_time": ("Xử lý đúng hạn", "Handled on time"),
    "late": ("Xử lý quá hạn", "Handled late"),
    "in_progress": ("Đang xử lý", "In progress"),
    "forwarded": ("Chuyển cơ quan có thẩm quyền", "Forwarded"),
    "rejected": ("Không xử lý", "Rejected"),
    "published": ("Đã công khai", "Published"),
}


@dataclass
class FeedbackRow:
    """One group of the feedback report."""

    key: dict[str, str | None]
    received: int = 0
    early: int = 0
    on_time_day: int = 0
    late: int = 0
    in_progress: int = 0
    forwarded: int = 0
    rejected: int = 0
    published: int = 0

    @property
    def on_time(self) -> int:
        """Handled early or on time."""
        return self.early + self.on_time_day

    @property
    def handled(self) -> int:
        """Handled in the period."""
        return self.on_time + self.late

    @property
    def on_time_rate(self) -> float | None:
        """(early + on time) / handled, ``None`` when nothing was handled."""
        return on_time_rate(self.early, self.on_time_day, self.late)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (the rate as a fraction rounded to 4 decimals)."""
        rate = self.on_time_rate
        return {
            **self.key,
            **{c: getattr(self, c) for c in COLUMNS},
            "handled": self.handled,
            "on_time_rate": None if rate is None else round(rate, 4),
        }


@dataclass
class FeedbackReport:
    """The feedback report of a period, grouped by ``by``, with a total row."""

    period: Period
    by: list[str]
    rows: list[FeedbackRow] = field(default_factory=list)
    total: FeedbackRow = field(default_factory=lambda: FeedbackRow({}))
    names: Names = field(default_factory=dict)
    #: Satisfaction answers given in the period by kind (``dossier``, ``feedback``, ``survey``):
    #: (answers, satisfied — 3 to 5 of 5).
    satisfaction: dict[str, tuple[int, int]] = field(default_factory=dict)

    def label(self, dim: str, code: object, lang: Lang) -> str:
        """The stored name of ``code`` (the code itself when it has none)."""
        return name_of(self.names, _NAMES.get(dim, dim), code, lang)

    def as_dict(self) -> dict[str, Any]:
        """``{"period", "by", "rows", "total"}``."""
        return {
            "kind": "feedback",
            "period": self.period.label,
            "by": self.by,
            "rows": [r.as_dict() for r in self.rows],
            "total": self.total.as_dict(),
            "satisfaction": {
                kind: {
                    "answers": n,
                    "satisfied": ok,
                    "satisfied_share": round(ok / n, 4) if n else None,
                }
                for kind, (n, ok) in sorted(self.satisfaction.items())
            },
        }

    def to_json(self) -> str:
        """The report as JSON text."""
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)

    def to_csv(self) -> str:
        """The rows and the total as CSV with a header line."""
        out = io.StringIO()
        columns = [*self.by, *COLUMNS, "handled", "on_time_rate"]
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(r.as_dict() for r in self.rows)
        writer.writerow({**{d: "total" for d in self.by[:1]}, **self.total.as_dict()})
        return out.getvalue()

    def sentence(self, lang: Lang = "vi") -> str:
        """The city reports' sentence about feedback in the period."""
        t = self.total
        if lang == "vi":
            return (
                f"{self.period.label_vi}: tiếp nhận {count(t.received, 'vi')} phản ánh, kiến "
                f"nghị; đã xử lý đúng hạn {count(t.on_time, 'vi')}, quá hạn "
                f"{count(t.late, 'vi')}, đang xử lý {count(t.in_progress, 'vi')}."
            )
        return (
            f"{self.period.label_en}: {count(t.received, 'en')} feedback items received; "
            f"{count(t.on_time, 'en')} handled on time, {count(t.late, 'en')} late, "
            f"{count(t.in_progress, 'en')} in progress."
        )

    def table_rows(self, lang: Lang = "vi") -> list[list[str]]:
        """Header then one line per group and the total, figures written for ``lang``."""
        i = 0 if lang == "vi" else 1
        head = [*self.by, *(_HEAD[c][i] for c in COLUMNS)]
        lines = [head]
        for r in [*self.rows, self.total]:
            names = [
                self.label(d, r.key.get(d), lang) if d in r.key else ("Tổng", "Total")[i]
                for d in self.by
            ]
            lines.append([*names, *(count(getattr(r, c), lang) for c in COLUMNS)])
        return lines


def feedback_report(store: Store, period: Period, by: Sequence[str] = ("level",)) -> FeedbackReport:
    """Compute the feedback report of ``period`` grouped by ``by``.

    Raises:
        ValidationError: If a dimension is unknown.
    """
    dims = dimensions(by, DIMENSIONS)
    start, end = period.start, period.end
    handled = F.resolved_on.between(start, end)
    cols = [DIMENSIONS[d].label(d) for d in dims]
    query = select(
        *cols,
        count_if(F.received_on.between(start, end)),
        count_if(and_(handled, F.timeliness == "early")),
        count_if(and_(handled, F.timeliness == "on_time")),
        count_if(and_(handled, F.timeliness == "late")),
        count_if(and_(F.received_on <= end, or_(F.resolved_on.is_(None), F.resolved_on > end))),
        count_if(and_(handled, F.outcome == "forwarded")),
        count_if(and_(handled, F.outcome == "rejected")),
        count_if(and_(handled, F.published_at.is_not(None))),
    ).where(F.received_on <= end, or_(F.resolved_on.is_(None), F.resolved_on >= start))
    if dims:
        query = query.group_by(*cols)
    n = len(dims)
    with store.read() as uow:
        records = uow.conn.execute(query).all()
        names = queries.names(uow)
        answers = uow.conn.execute(
            select(S.kind, func.count(), count_if(S.score > UNSATISFIED_AT_MOST))
            .where(S.answered_on.between(start, end))
            .group_by(S.kind)
        ).all()
    report = FeedbackReport(period, dims, names=names)
    report.satisfaction = {str(k): (int(n), int(ok)) for k, n, ok in answers}
    fields_ = ("received", "early", "on_time_day", "late", "in_progress", "forwarded",
               "rejected", "published")  # fmt: skip
    for rec in records:
        row = FeedbackRow(dict(zip(dims, rec[:n], strict=True)))
        for name, value in zip(fields_, rec[n:], strict=True):
            setattr(row, name, int(value))
            setattr(report.total, name, getattr(report.total, name) + int(value))
        if any(getattr(row, f) for f in fields_):
            report.rows.append(row)
    report.rows.sort(key=lambda r: group_order(dims, [r.key[d] for d in dims]))
    return report


def render_html(report: FeedbackReport, lang: Lang = "vi") -> str:
    """One self-contained HTML page: the sentence, the table and on-time bars from zero."""
    lines = report.table_rows(lang)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in lines[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in line) + "</tr>" for line in lines[1:]
    )
    bars = [
        (
            " / ".join(report.label(d, r.key[d], lang) for d in report.by),
            100 * (r.on_time_rate or 0.0),
            percent(r.on_time_rate, lang),
        )
        for r in report.rows
        if r.on_time_rate is not None
    ]
    chart = (
        bar_chart(bars, top=100, title="on time", low="0 %", high="100 %", css_class="feedback")
        if bars
        else ""
    )
    title = ("Báo cáo phản ánh, kiến nghị", "Citizen feedback report")[lang != "vi"]
    period = report.period.label_vi if lang == "vi" else report.period.label_en
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{title} — {html.escape(period)}</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #999;padding:2px 6px}"
        "table{border-collapse:collapse}</style></head><body>"
        f"<h1>{title} — {html.escape(period)}</h1><p>{html.escape(report.sentence(lang))}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{chart}</body></html>"
    )
