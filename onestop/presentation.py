"""How figures are written for people: one home for percentages and counts per language.

Vietnamese writes ``99,96 %`` and ``1.337``; English ``99.96 %`` and ``1,337``. Every renderer
(the report sentence, the HTML page, the terminal tables) formats through these.

Example:
    >>> percent(0.99956, "vi"), percent(0.99956, "en"), percent(None, "vi")
    ('99,96 %', '99.96 %', '–')
    >>> count(1337, "vi"), count(1337, "en")
    ('1.337', '1,337')
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["vi", "en"]


def count(value: int, lang: Lang) -> str:
    """A whole number with the language's thousands separator."""
    text = f"{value:,}"
    return text.replace(",", ".") if lang == "vi" else text


def percent(value: float | None, lang: Lang, digits: int = 2) -> str:
    """A fraction as a percentage with ``digits`` decimals; ``–`` when there is none."""
    if value is None:
        return "–"
    text = f"{value * 100:,.{digits}f}"
    if lang == "vi":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return f"{text} %"


def decimal(value: float, lang: Lang, digits: int = 2) -> str:
    """A number with ``digits`` decimals in the language's style (scores: ``16,67`` / ``16.67``).

    Example:
        >>> decimal(1234.5, "vi"), decimal(1234.5, "en")
        ('1.234,50', '1,234.50')
    """
    text = f"{value:,.{digits}f}"
    if lang == "vi":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text
