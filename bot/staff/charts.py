"""Small accessible inline SVG bar charts (no JavaScript); each comes with a data table.

The SVG has ``role="img"`` with a title and a description that says every value, so a
screen reader hears the whole chart. Small numbers are suppressed as in the tables
(``bot.staff.queries``): a count from 1 to 4, or a percentage resting on fewer than 5
answers, draws no bar, only a short hatched marker of the same size for every such row
(so its length tells nothing) and the text "<5" (or "<5 answers" for a percentage).
"""

from __future__ import annotations

import itertools
import textwrap

from markupsafe import Markup, escape

from bot.staff.queries import Table

_ids = itertools.count(1)
BAR = "#005eb8"
NEGATIVE = "#8a1538"
TEXT = "#212b32"
HATCH = "#4c6272"
MARKER = 24  # the width of the "<5" marker, whatever the scale
FONT = 14
CHAR = 7.4  # the average width of a character at FONT, in SVG units (Arial)
WIDE = (230, 330, 70)  # label, bars, value: the dashboard
COMPACT = (180, 110, 60)  # the one-page report: fewer units, so the text prints larger


def _values(table: Table, measure: str) -> list[tuple[str, float | None, str, bool]]:
    """(label, value or None, text, suppressed) per row."""
    found = []
    for row in table.rows:
        if measure == "count":
            small = table.count_text(row) == "<5"
            found.append((row.label, None if small else float(row.count),
                          "fewer than 5" if small else str(row.count), small))
        elif table.hidden(row):
            small = row.rated > 0
            found.append((row.label, None,
                          "not shown (fewer than 5 answers)" if small else "no answers", small))
        else:
            value = getattr(row, measure)
            found.append((row.label, value, f"{value:.0f}%", False))
    return found


def _lines(name: str, chars: int) -> list[str]:
    """The label in at most two lines of ``chars`` characters (the rest cut with "...")."""
    lines = textwrap.wrap(name, chars, break_long_words=True) or [""]
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), chars, placeholder="\u2026")]
    return lines


def bar_chart(table: Table, measure: str = "count", title: str | None = None,
              compact: bool = False) -> Markup:
    """Horizontal bars of ``measure`` (``count``, ``positive`` or ``negative``) per row.

    ``compact`` draws it for a narrow column of the printed report.
    """
    values = _values(table, measure)
    title = title or table.title
    number = next(_ids)
    if not values:
        return Markup('<p class="empty">No responses match these filters.</p>')
    label_width, bar_width, value_width = COMPACT if compact else WIDE
    width = label_width + bar_width + value_width
    chars = int((label_width - 10) / CHAR)
    top = 100.0 if measure != "count" else max((v for _, v, _, _ in values if v), default=1.0)
    colour = NEGATIVE if measure == "negative" else BAR
    rows = [(_lines(name, chars), value, text, small) for name, value, text, small in values]
    line = FONT + 3
    height = sum(max(24, len(lines) * line + 8) for lines, *_ in rows) + 6
    desc = "; ".join(f"{name}: {text}" for name, _, text, _ in values)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="chart{number}-title chart{number}-desc" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart{number}-title">{escape(title)}</title>',
        f'<desc id="chart{number}-desc">{escape(desc)}</desc>',
    ]
    if any(small for *_, small in rows):
        parts.append(f'<defs><pattern id="hatch{number}" patternUnits="userSpaceOnUse" '
                     f'width="6" height="6" patternTransform="rotate(45)">'
                     f'<rect width="2.5" height="6" fill="{HATCH}"/></pattern></defs>')
    y = 4
    for lines, value, text, small in rows:
        size = max(24, len(lines) * line + 8)
        middle = y + size / 2
        first = middle - (len(lines) - 1) * line / 2 + 5
        tspans = "".join(f'<tspan x="{label_width - 8}" y="{first + i * line:.0f}">'
                         f'{escape(part)}</tspan>' for i, part in enumerate(lines))
        parts.append(f'<text text-anchor="end" fill="{TEXT}" font-size="{FONT}">{tspans}</text>')
        bar = 0 if not value else max(2, round(bar_width * value / (top or 1)))
        if small:
            bar = MARKER
            parts.append(f'<rect x="{label_width}" y="{middle - 9:.0f}" width="{MARKER}" '
                         f'height="18" fill="url(#hatch{number})" stroke="{HATCH}"/>')
        elif bar:
            parts.append(f'<rect x="{label_width}" y="{middle - 9:.0f}" width="{bar}" '
                         f'height="18" fill="{colour}"/>')
        shown = ("<5" if measure == "count" else "<5 answers") if small else (
            "no answers" if value is None else text)
        parts.append(f'<text x="{label_width + bar + 6}" y="{middle + 5:.0f}" fill="{TEXT}" '
                     f'font-size="{FONT}">{escape(shown)}</text>')
        y += size
    parts.append("</svg>")
    return Markup("".join(parts))
