"""Reporting periods: a year, quarter, month, day or date range, in local dates.

Example:
    >>> Period.parse("2024-Q1").label_en
    'Q1 2024'
    >>> Period.parse("2024-02").end.isoformat()
    '2024-02-29'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from onestop.clock import VN_TZ
from onestop.errors import ValidationError
from onestop.inputs import day


@dataclass(frozen=True)
class Period:
    """A reporting period: inclusive local dates.

    Attributes:
        start: First day.
        end: Last day.
        label: How it was written (``2024``, ``2024-Q1``, ``2024-03``, ``a..b``).
    """

    start: date
    end: date
    label: str

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse ``2024``, ``2024-Q1``, ``2024-03``, ``2024-03-05`` or ``2024-01-01..2024-06-30``.

        Raises:
            ValidationError: If the text is none of these, or falls outside the years onestop
                handles (:data:`onestop.inputs.FIRST_YEAR` to :data:`~onestop.inputs.LAST_YEAR`).
        """
        period = cls._parse(text)
        day(period.start, "period")
        day(period.end, "period")
        return period

    @classmethod
    def _parse(cls, text: str) -> Period:
        t = text.strip()
        try:
            if ".." in t:
                # Either side is any period form (2021..2025, 2024-01-01..2024-06-30).
                a, b = (cls._parse(x).start if i == 0 else cls._parse(x).end
                        for i, x in enumerate(t.split("..", 1)))  # fmt: skip
                if b < a:
                    raise ValidationError("period", f"{t!r} ends before it starts")
                return cls(a, b, t)
            if re.fullmatch(r"[0-9]{4}", t):
                y = int(t)
                return cls(date(y, 1, 1), date(y, 12, 31), t)
            m = re.fullmatch(r"([0-9]{4})-[Qq]([1-4])", t)
            if m:
                y, q = int(m[1]), int(m[2])
                start = date(y, 3 * q - 2, 1)
                return cls(start, _month_end(y, 3 * q), f"{y}-Q{q}")
            m = re.fullmatch(r"([0-9]{4})-([0-9]{2})", t)
            if m:
                y, mo = int(m[1]), int(m[2])
                return cls(date(y, mo, 1), _month_end(y, mo), t)
            d = date.fromisoformat(t)
            return cls(d, d, t)
        except ValueError:
            raise ValidationError(
                "period", f"{text!r} is not a year, quarter (2024-Q1), month, day or a..b range"
            ) from None

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """Local midnight opening the first day and closing the last (end exclusive)."""
        start = datetime.combine(self.start, datetime.min.time(), VN_TZ)
        return start, datetime.combine(self.end + timedelta(days=1), datetime.min.time(), VN_TZ)

    @property
    def label_vi(self) -> str:
        """Vietnamese label: ``Năm 2024``, ``Quý 1/2024``, ``Tháng 3/2024``..."""
        m = re.fullmatch(r"(\d{4})-Q(\d)", self.label)
        if re.fullmatch(r"\d{4}", self.label):
            return f"Năm {self.label}"
        if m:
            return f"Quý {m[2]}/{m[1]}"
        if re.fullmatch(r"\d{4}-\d{2}", self.label):
            return f"Tháng {self.start.month}/{self.start.year}"
        if re.fullmatch(r"\d{4}\.\.\d{4}", self.label):
            return f"Giai đoạn {self.start.year}–{self.end.year}"
        return f"Từ {self.start:%d/%m/%Y} đến {self.end:%d/%m/%Y}"

    @property
    def label_en(self) -> str:
        """English label: ``2024``, ``Q1 2024``, ``March 2024``..."""
        m = re.fullmatch(r"(\d{4})-Q(\d)", self.label)
        if re.fullmatch(r"\d{4}", self.label):
            return self.label
        if m:
            return f"Q{m[2]} {m[1]}"
        if re.fullmatch(r"\d{4}-\d{2}", self.label):
            return self.start.strftime("%B %Y")
        if re.fullmatch(r"\d{4}\.\.\d{4}", self.label):
            return f"{self.start.year}–{self.end.year}"
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def _month_end(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)
