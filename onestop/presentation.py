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
#: Names of codes, as reports hold them: kind (``level``, ``unit``, ``field``...) → code →
#: (Vietnamese name, English name).
Names = dict[str, dict[str, tuple[str, str]]]


def name_of(names: Names, kind: str, code: object, lang: Lang) -> str:
    """The name of ``code`` among ``names[kind]`` in ``lang`` (the code itself without one).

    Example:
        >>> names = {"level": {"city": ("cấp thành phố", "city")}}
        >>> name_of(names, "level", "city", "vi"), name_of(names, "level", "x", "en")
        ('cấp thành phố', 'x')
    """
    pair = names.get(kind, {}).get(str(code))
    return str(code) if pair is None else pair[0 if lang == "vi" else 1]


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
