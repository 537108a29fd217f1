"""A self-contained HTML page for an on-time report: bilingual table and inline SVG charts.

No script, no font, no network: the page renders the same offline, in a browser or a mail client.
"""

from __future__ import annotations

from html import escape

from onestop.presentation import count, percent
from onestop.reports import Report, Row

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


def _label(report: Report, row: Row) -> str:
    return " · ".join(report.label(d, row.key[d], "vi") for d in report.by) or "—"


def _rate_chart(report: Report) -> str:
    rows = [r for r in report.rows if r.on_time_rate is not None]
    if not rows:
        return "<p>Chưa có hồ sơ được giải quyết / No dossier resolved yet.</p>"
    # The axis starts at zero: a shortened axis would exaggerate differences of a tenth of a point.
    width, bar_h, left = 640, 26, 200
    height = 40 + bar_h * len(rows)
    parts = [
        f'<svg class="chart rate" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        "<title>Tỷ lệ đúng hạn / On-time rate (trục từ 0 %)</title>",
    ]
    span = width - left - 80
    for i, row in enumerate(rows):
        rate = row.on_time_rate or 0.0
        w = max(1.0, rate * span)
        y = 20 + i * bar_h
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(_label(report, row))}</text>"
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 6}" fill="#1565c0"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 15}">{percent(rate, "vi")}</text>'
        )
    parts.append(_axis(left, span, height - 14, "0 %", "100 %"))
    parts.append("</svg>")
    return "".join(parts)


def _name_cell(report: Report, dim: str, code: object) -> str:
    """A table cell with the Vietnamese name, and the English name or the code beneath it."""
    vi, en = report.label(dim, code, "vi"), report.label(dim, code, "en")
    under = en if en != vi else (str(code) if vi != str(code) else "")
    small = f"<br><small>{escape(under)}</small>" if under else ""
    return f"<td>{escape(vi)}{small}</td>"


def _axis(left: int, span: int, y: int, low: str, high: str) -> str:
    """A horizontal axis line from ``left`` over ``span`` pixels, labelled at both ends."""
    return (
        f'<line x1="{left}" y1="{y - 12}" x2="{left + span}" y2="{y - 12}" stroke="#757575"/>'
        f'<text x="{left}" y="{y}" class="axis">{low}</text>'
        f'<text x="{left + span}" y="{y}" class="axis" text-anchor="end">{high}</text>'
    )


def _count_chart(report: Report) -> str:
    rows = [r for r in report.rows if r.resolved]
    if not rows:
        return ""
    top = max(r.resolved for r in rows)
    width, bar_h, left = 640, 26, 200
    span = width - left - 20
    height = 64 + bar_h * len(rows)
    parts = [
        f'<svg class="chart counts" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        "<title>Hồ sơ đã giải quyết theo tiến độ / Resolved dossiers by timeliness</title>",
    ]
    for i, row in enumerate(rows):
        y = 10 + i * bar_h
        x = float(left)
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(_label(report, row))}</text>"
        )
        for key in ("early", "on_time", "late"):
            value = getattr(row, key)
            w = value / top * span
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h - 6}" '
                    f'fill="{_COLOURS[key]}"><title>{key}: {count(value, "vi")}</title></rect>'
                )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{count(row.resolved, "vi")}</text>')
    parts.append(_axis(left, span, 24 + bar_h * len(rows), "0", count(top, "vi")))
    legend_y = height - 12
    for j, (key, vi, en) in enumerate(
        [
            ("early", "Trước hạn", "Early"),
            ("on_time", "Đúng hạn", "On time"),
            ("late", "Quá hạn", "Late"),
        ]
    ):
        lx = left + j * 140
        parts.append(
            f'<rect x="{lx}" y="{legend_y - 10}" width="12" height="12" fill="{_COLOURS[key]}"/>'
            f'<text x="{lx + 16}" y="{legend_y}">{vi} / {en}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


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


def _late_steps_block(report: Report) -> str:
    steps = [s for s in report.late_steps or [] if s.late]
    if not steps:
        return ""
    rows = "".join(
        f"<tr>{_name_cell(report, 'agency', s.agency)}"
        f'<td class="num">{count(s.completed, "vi")}</td>'
        f'<td class="num">{count(s.late, "vi")}</td>'
        f'<td class="num">{percent(s.late_share, "vi")}</td></tr>'
        for s in steps[:20]
    )
    return (
        "<h2>Bước xử lý quá hạn theo cơ quan <small>Late steps by agency</small></h2>"
        '<table id="late-steps"><tr><th>Cơ quan<br><small>Agency</small></th>'
        "<th>Bước hoàn thành<br><small>Steps done</small></th><th>Quá hạn<br><small>Late</small>"
        "</th><th>Tỷ lệ<br><small>Share</small></th></tr>"
        f"{rows}</table>"
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
{_late_steps_block(report)}
</body></html>
"""
