"""A self-contained HTML page for the Decision 766 scorecard: points by group, indicator values
with their formulas, and the indicators onestop cannot compute, with the reason.

No script, no font, no network. Figures are written in Vietnamese (``99,96 %``) through
:mod:`onestop.presentation`; names come from the stored definitions.
"""

from __future__ import annotations

from html import escape

from onestop.presentation import count, decimal, percent
from onestop.report_charts import bar_chart
from onestop.scorecard import GROUPS, INDICATORS, Score, Scorecard

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #bbb;padding:4px 8px;vertical-align:top}
th{background:#eef}
td.num{text-align:right;white-space:nowrap}
small{color:#555}
.na{color:#888}
"""


def points(value: float | None) -> str:
    """Points with two decimals, Vietnamese style (``16,67``); ``–`` when not scored."""
    return "–" if value is None else decimal(value, "vi")


def _value(code: str, score: Score | None) -> str:
    if score is None or score.value is None:
        return "–"
    if code == "2.2":  # a ratio of working days, not a share
        return f"{points(score.value)}×"
    return percent(score.value, "vi")


def _bars(card: Scorecard) -> str:
    """Total points per row as bars from zero, each the share of the points that could be
    scored, drawn over a track of those points."""
    bars = []
    for row in card.rows:
        earned, possible = row.total
        share = earned / possible if possible else 0.0
        bars.append((card.label(row.key, "vi"), share, f"{points(earned)}/{points(possible)}"))
    return bar_chart(
        bars, top=1.0, title="Điểm / Points (trục từ 0)", low="0",
        high="điểm tính được / points possible", css_class="scorecard", track="#e3e8f3",
    )  # fmt: skip


def render_scorecard_html(card: Scorecard) -> str:
    """The scorecard as one HTML page (Vietnamese first, English beneath)."""
    head = "Đơn vị" if card.by == "unit" else "Cấp"
    out = [
        "<!DOCTYPE html>",
        '<html lang="vi"><head><meta charset="utf-8">',
        f"<title>Bộ chỉ số 766 — {escape(card.period.label_vi)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Bộ chỉ số phục vụ người dân, doanh nghiệp (Quyết định 766/QĐ-TTg)</h1>",
        f"<p>{escape(card.period.label_vi)} · Decision 766/QĐ-TTg scorecard, "
        f"{escape(card.period.label_en)}, by {escape(card.by)}. Điểm đạt / điểm tính được từ dữ "
        "liệu onestop (tổng của Quyết định: 100).</p>",
        _bars(card),
        "<h2>Điểm theo nhóm chỉ số / Points by group</h2>",
        f"<table><tr><th>{head}</th>",
    ]
    for g in GROUPS:
        out.append(
            f"<th>{g.code}. {escape(g.name_vi)}<br><small>{escape(g.name_en)} · "
            f"tối đa {points(g.points)}</small></th>"
        )
    out.append("<th>Tổng<br><small>Total</small></th></tr>")
    for row in card.rows:
        cells = [f"<td>{escape(card.label(row.key, 'vi'))}<br><small>{escape(row.key)}</small>"]
        for g in GROUPS:
            earned, possible = row.group_points(g)
            text = f"{points(earned)} / {points(possible)}" if possible else "–"
            cells.append(f'<td class="num">{text}</td>')
        earned, possible = row.total
        cells.append(f'<td class="num"><b>{points(earned)}</b> / {points(possible)}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")

    computable = [i for i in INDICATORS.values() if i.computable]
    out.append("<h2>Giá trị chỉ số / Indicator values</h2>")
    out.append(f"<table><tr><th>{head}</th>")
    for ind in computable:
        out.append(f"<th>{ind.code}<br><small>{escape(ind.name_en)}</small></th>")
    out.append("</tr>")
    for row in card.rows:
        cells = [f"<td>{escape(card.label(row.key, 'vi'))}</td>"]
        for ind in computable:
            score = row.scores.get(ind.code)
            cells.append(
                f'<td class="num">{_value(ind.code, score)}<br>'
                f"<small>{points(score.points if score else None)} điểm</small></td>"
            )
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")

    out.append("<h2>Chỉ số, công thức và điểm / Indicators, formulas and points</h2>")
    out.append(
        "<table><tr><th>Mã</th><th>Chỉ số / Indicator</th><th>Công thức / Formula</th>"
        "<th>Điểm tối đa</th><th>Căn cứ / Basis</th></tr>"
    )
    for g in GROUPS:
        out.append(
            f'<tr><th colspan="5" style="text-align:left">{g.code}. {escape(g.name_vi)} · '
            f"{escape(g.name_en)} — {points(g.points)} điểm ({escape(g.basis)})</th></tr>"
        )
        for ind in g.indicators:
            formula = escape(ind.formula)
            if ind.reason is not None:
                formula += (
                    '<br><span class="na">Không tính được từ dữ liệu onestop / not computable '
                    f"from onestop data: {escape(ind.reason)}</span>"
                )
            out.append(
                f"<tr><td>{ind.code}</td><td>{escape(ind.name_vi)}<br>"
                f"<small>{escape(ind.name_en)}</small></td><td>{formula}</td>"
                f'<td class="num">{points(ind.points)}</td><td>{escape(ind.basis)}</td></tr>'
            )
    out.append("</table>")
    out.append(
        f"<p><small>{count(len(card.rows), 'vi')} dòng / rows. Nguồn: Quyết định 766/QĐ-TTg "
        "ngày 23/6/2022; điểm ghi “assumed” là giả định của onestop khi nguồn không nêu."
        "</small></p></body></html>"
    )
    return "\n".join(out)
