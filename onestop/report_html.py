"""A self-contained HTML page for an on-time report: bilingual table and inline SVG charts.

No script, no font, no network: the page renders the same offline, in a browser or a mail client.
"""

from __future__ import annotations

from html import escape

from onestop.presentation import count, percent
from onestop.report_charts import bar_chart, stacked_chart, trend_chart
from onestop.reports import Report, Row, level_order

_COLUMNS = [
    ("resolved", "Đã giải quyết", "Resolved"),
    ("early", "Trước hạn", "Early"),
    ("on_time", "Đúng hạn", "On time"),
    ("late", "Quá hạn", "Late"),
    ("on_time_rate", "Tỷ lệ đúng hạn", "On-time rate"),
    ("open_in_time", "Đang giải quyết trong hạn", "Open, in time"),
    ("open_overdue", "Đang giải quyết quá hạn", "Open, overdue"),
    ("apologies", "Phiếu xin lỗi", "Apology letters"),
]
_DIM_LABELS = {
    "level": ("Cấp", "Level"),
    "unit": ("Đơn vị", "Unit"),
    "intake_unit": ("Nơi tiếp nhận", "Intake unit"),
    "agency": ("Cơ quan", "Agency"),
    "field": ("Lĩnh vực", "Field"),
    "procedure": ("Thủ tục", "Procedure"),
    "channel": ("Kênh", "Channel"),
    "intake_mode": ("Hình thức tiếp nhận", "Intake mode"),
}
_COLOURS = {"early": "#2e7d32", "on_time": "#81c784", "late": "#c62828"}
_PARTS = [
    ("early", "Trước hạn", "Early"),
    ("on_time", "Đúng hạn", "On time"),
    ("late", "Quá hạn", "Late"),
]


def _label(report: Report, row: Row) -> str:
    return " · ".join(report.label(d, row.key[d], "vi") for d in report.by) or "—"


def _rate_chart(report: Report) -> str:
    rows = [r for r in report.rows if r.on_time_rate is not None]
    if not rows:
        return "<p>Chưa có hồ sơ được giải quyết / No dossier resolved yet.</p>"
    # The axis starts at zero: a shortened axis would exaggerate differences of a tenth of a point.
    bars = [(_label(report, r), r.on_time_rate or 0.0, percent(r.on_time_rate, "vi")) for r in rows]
    return bar_chart(
        bars,
        top=1.0,
        title="Tỷ lệ đúng hạn / On-time rate (trục từ 0 %)",
        low="0 %",
        high="100 %",
        css_class="rate",
    )


def _name_cell(report: Report, dim: str, code: object) -> str:
    """A table cell with the Vietnamese name, and the English name or the code beneath it."""
    vi, en = report.label(dim, code, "vi"), report.label(dim, code, "en")
    under = en if en != vi else (str(code) if vi != str(code) else "")
    small = f"<br><small>{escape(under)}</small>" if under else ""
    return f"<td>{escape(vi)}{small}</td>"


def _count_chart(report: Report) -> str:
    rows = [r for r in report.rows if r.resolved]
    if not rows:
        return ""
    bars = [
        (
            _label(report, r),
            [
                (_COLOURS[key], getattr(r, key), f"{en}: {count(getattr(r, key), 'vi')}")
                for key, _, en in _PARTS
            ],
            count(r.resolved, "vi"),
        )
        for r in rows
    ]
    return stacked_chart(
        bars,
        top=max(r.resolved for r in rows),
        title="Hồ sơ đã giải quyết theo tiến độ / Resolved dossiers by timeliness",
        high=count(max(r.resolved for r in rows), "vi"),
        legend=[(_COLOURS[key], f"{vi} / {en}") for key, vi, en in _PARTS],
    )


def _kpi_block(report: Report) -> str:
    k = report.kpis
    if k is None:
        return ""
    items = [
        ("Hồ sơ tiếp nhận", "Dossiers received", count(k.received, "vi")),
        ("Tỷ lệ nộp trực tuyến", "Received online", percent(k.online_share, "vi")),
        ("Tỷ lệ thanh toán trực tuyến", "Paid online", percent(k.paid_online_share, "vi")),
        ("Trả kết quả qua bưu chính", "Returned by post", percent(k.post_return_share, "vi")),
        ("Mức độ hài lòng (≥ 4/5)", "Satisfaction (≥ 4/5)", percent(k.satisfaction, "vi")),
        (
            "Tiếp nhận không phụ thuộc địa giới",
            "Location-independent",
            count(k.location_independent, "vi"),
        ),
        ("Hồ sơ được số hóa", "Dossiers digitised", percent(k.digitised_share, "vi")),
        ("Tái sử dụng dữ liệu số", "Digitised data reused", percent(k.reuse_share, "vi")),
        ("Kết quả được số hóa", "Results digitised", percent(k.results_digitised_share, "vi")),
        ("Kết quả điện tử", "Electronic results", percent(k.results_electronic_share, "vi")),
    ]
    rows = "".join(
        f'<tr><th>{vi}<br><small>{en}</small></th><td class="num">{v}</td></tr>'
        for vi, en, v in items
    )
    return f'<h2>Chỉ số khác <small>Other indicators</small></h2><table id="kpis">{rows}</table>'


def _table(table_id: str, head: list[tuple[str, str]], rows: list[str]) -> str:
    """A table with bilingual headers (Vietnamese, English beneath) and pre-rendered rows."""
    cells = "".join(f"<th>{escape(vi)}<br><small>{escape(en)}</small></th>" for vi, en in head)
    return f'<table id="{table_id}"><tr>{cells}</tr>{"".join(rows)}</table>'


def _num(text: str) -> str:
    return f'<td class="num">{text}</td>'


def _trend_block(report: Report) -> str:
    """Month-by-month on-time rate per level: a line chart and its figures, for periods that
    span more than one month."""
    points = report.trend or []
    months = sorted({p.month for p in points})
    if len(months) < 2:
        return ""
    levels = sorted({p.level for p in points}, key=level_order)
    rate = {(p.month, p.level): p.on_time_rate for p in points}
    series = [
        (report.label("level", lv, "vi"), [rate.get((m, lv)) for m in months]) for lv in levels
    ]
    chart = trend_chart([f"{m.month}/{m.year}" for m in months], series)
    rows = [
        f"<tr><td>{m.month:02d}/{m.year}</td>"
        + "".join(_num(percent(rate.get((m, lv)), "vi")) for lv in levels)
        + "</tr>"
        for m in months
    ]
    head = [("Tháng", "Month")] + [
        (report.label("level", lv, "vi"), report.label("level", lv, "en")) for lv in levels
    ]
    return (
        "<h2>Tỷ lệ đúng hạn theo tháng <small>On-time rate by month</small></h2>"
        f"{chart}{_table('trend', head, rows)}"
    )


def _most_late(
    report: Report,
    dim: str,
    items: list[tuple[str, int, int, float]],
    titles: tuple[str, str],
    ids: tuple[str, str],
    head: list[tuple[str, str]],
) -> str:
    """The ten with the most late: bars from zero, then a table of name, count, late, share.

    Args:
        report: The report (for names).
        dim: The dimension the codes belong to (``procedure``, ``agency``).
        items: ``(code, done, late, late share)``, most late first.
        titles: Vietnamese and English heading.
        ids: The chart's class and the table's id.
        head: The table's headers after the name column.
    """
    items = items[:10]
    if not items:
        return ""
    top = max(late for _, _, late, _ in items)
    chart = bar_chart(
        [(report.label(dim, code, "vi"), late, count(late, "vi")) for code, _, late, _ in items],
        top=top,
        title=" / ".join(titles),
        low="0",
        high=count(top, "vi"),
        css_class=ids[0],
        colour=_COLOURS["late"],
    )
    rows = [
        f"<tr>{_name_cell(report, dim, code)}{_num(count(done, 'vi'))}"
        f"{_num(count(late, 'vi'))}{_num(percent(share, 'vi'))}</tr>"
        for code, done, late, share in items
    ]
    return f"<h2>{titles[0]} <small>{titles[1]}</small></h2>{chart}{_table(ids[1], head, rows)}"


def _late_procedures_block(report: Report) -> str:
    procs = report.late_procedures or []
    return _most_late(
        report,
        "procedure",
        [(p.procedure, p.resolved, p.late, p.late_share) for p in procs],
        ("Thủ tục có nhiều hồ sơ quá hạn nhất", "Procedures with the most late dossiers"),
        ("late-procedures", "late-procedures"),
        [
            ("Thủ tục", "Procedure"),
            ("Đã giải quyết", "Resolved"),
            ("Quá hạn", "Late"),
            ("Tỷ lệ quá hạn", "Late share"),
        ],  # fmt: skip
    )


def _late_steps_block(report: Report) -> str:
    steps = [s for s in report.late_steps or [] if s.late]
    return _most_late(
        report,
        "agency",
        [(s.agency, s.completed, s.late, s.late_share) for s in steps],
        ("Cơ quan có nhiều bước xử lý quá hạn nhất", "Agencies with the most late steps"),
        ("late-agencies", "late-steps"),
        [
            ("Cơ quan", "Agency"),
            ("Bước hoàn thành", "Steps done"),
            ("Quá hạn", "Late"),
            ("Tỷ lệ", "Share"),
        ],  # fmt: skip
    )


def _unit_tables(report: Report) -> str:
    """One table per level listing its units by name with their figures."""
    by_level: dict[str, list[Row]] = {}
    for row in report.unit_rows or []:
        by_level.setdefault(str(row.key["level"]), []).append(row)
    blocks = []
    head = [("Đơn vị", "Unit")] + [(vi, en) for _, vi, en in _COLUMNS]
    for level, rows in by_level.items():
        body = []
        for row in rows:
            data = row.as_dict()
            cells = "".join(
                _num(percent(data[k], "vi") if k == "on_time_rate" else count(data[k], "vi"))
                for k, _, _ in _COLUMNS
            )
            body.append(f"<tr>{_name_cell(report, 'unit', row.key['unit'])}{cells}</tr>")
        vi, en = report.label("level", level, "vi"), report.label("level", level, "en")
        blocks.append(
            f"<h3>{escape(vi[:1].upper() + vi[1:])} — theo đơn vị "
            f"<small>{escape(en)} level, by unit</small></h3>"
            + _table(f"units-{escape(level)}", head, body)
        )
    if not blocks:
        return ""
    return "<h2>Theo đơn vị <small>By unit</small></h2>" + "".join(blocks)


def _sync_block(report: Report) -> str:
    """Synchronisation with the national portal: per level, then its units."""
    if not report.sync:
        return ""
    rows = []
    for s in report.sync:
        if s.unit is None:
            vi = report.label("level", s.level, "vi")
            name = f"<th>{escape(vi[:1].upper() + vi[1:])}</th>"
        else:
            name = _name_cell(report, "unit", s.unit)
        rows.append(
            f"<tr>{name}{_num(count(s.dossiers, 'vi'))}{_num(count(s.acknowledged, 'vi'))}"
            f"{_num(percent(s.share, 'vi'))}</tr>"
        )
    head = [
        ("Cấp / đơn vị", "Level / unit"),
        ("Hồ sơ tiếp nhận", "Dossiers received"),
        ("Đã đồng bộ trạng thái", "Status acknowledged"),
        ("Tỷ lệ", "Share"),
    ]
    return (
        "<h2>Đồng bộ với Cổng Dịch vụ công quốc gia "
        "<small>Synchronisation with the national portal</small></h2>" + _table("sync", head, rows)
    )


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (Vietnamese and English labels)."""
    head_cells = "".join(
        f"<th>{escape(_DIM_LABELS.get(d, (d, d))[0])}<br><small>"
        f"{escape(_DIM_LABELS.get(d, (d, d))[1])}</small></th>"
        for d in report.by
    ) + "".join(f"<th>{vi}<br><small>{en}</small></th>" for _, vi, en in _COLUMNS)
    body_rows = []
    for row in report.rows:
        data = row.as_dict()
        cells = "".join(_name_cell(report, d, row.key[d]) for d in report.by)
        for key, _, _ in _COLUMNS:
            value = data[key]
            text = percent(value, "vi") if key == "on_time_rate" else count(value, "vi")
            cells += f'<td class="num">{text}</td>'
        body_rows.append(f"<tr>{cells}</tr>")
    sentences = ""
    if report.by == ["level"]:
        sentences = (
            f'<p class="sentence" lang="vi">{escape(report.sentence("vi"))}</p>'
            f'<p class="sentence" lang="en">{escape(report.sentence("en"))}</p>'
        )
    title_vi = f"Báo cáo tiến độ giải quyết hồ sơ — {report.period.label_vi}"
    title_en = f"On-time report — {report.period.label_en}"
    return f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<title>{escape(title_vi)} / {escape(title_en)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #212121; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #bdbdbd; padding: 4px 8px; }}
th {{ background: #eceff1; font-weight: 600; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
small {{ color: #616161; font-weight: normal; }}
svg text {{ font: 12px sans-serif; fill: #212121; }}
svg text.axis {{ fill: #757575; }}
svg text.axis-note {{ fill: #c62828; }}
.sentence {{ font-size: 1.1em; }}
</style></head>
<body>
<h1>{escape(title_vi)}<br><small>{escape(title_en)}</small></h1>
<p>Số liệu tính đến / as of {escape(report.as_of.strftime("%d/%m/%Y %H:%M"))}</p>
{sentences}
<table id="on-time">
<thead><tr>{head_cells}</tr></thead>
<tbody>{"".join(body_rows)}</tbody>
</table>
{_kpi_block(report)}
<h2>Tỷ lệ đúng hạn <small>On-time rate</small></h2>
{_rate_chart(report)}
<h2>Hồ sơ đã giải quyết <small>Resolved dossiers</small></h2>
{_count_chart(report)}
{_trend_block(report)}
{_late_procedures_block(report)}
{_late_steps_block(report)}
{_unit_tables(report)}
{_sync_block(report)}
</body></html>
"""
