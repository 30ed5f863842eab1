"""Small accessible inline SVG bar charts (no JavaScript); each comes with a data table.

The SVG has ``role="img"`` with a title and a description that says every value, so a
screen reader hears the whole chart; suppressed counts draw no bar and read "fewer than 5".
"""

from __future__ import annotations

import itertools

from markupsafe import Markup, escape

from bot.staff.queries import Table

_ids = itertools.count(1)
BAR = "#005eb8"
NEGATIVE = "#8a1538"
TEXT = "#212b32"
ROW_HEIGHT = 26
LABEL_WIDTH = 230
BAR_WIDTH = 330
WIDTH = LABEL_WIDTH + BAR_WIDTH + 70


def _values(table: Table, measure: str) -> list[tuple[str, float | None, str]]:
    found = []
    for row in table.rows:
        if measure == "count":
            hidden = table.suppress and table.count_text(row) == "<5"
            found.append((row.label, None if hidden else float(row.count),
                          "fewer than 5" if hidden else str(row.count)))
        else:
            value = None if table.hidden(row) else getattr(row, measure)
            found.append((row.label, value,
                          "not shown (fewer than 5)" if value is None else f"{value:.0f}%"))
    return found


def bar_chart(table: Table, measure: str = "count", title: str | None = None) -> Markup:
    """Horizontal bars of ``measure`` (``count``, ``positive`` or ``negative``) per row."""
    values = _values(table, measure)
    title = title or table.title
    number = next(_ids)
    if not values:
        return Markup('<p class="empty">No responses match these filters.</p>')
    top = 100.0 if measure != "count" else max((v for _, v, _ in values if v), default=1.0)
    height = ROW_HEIGHT * len(values) + 8
    colour = NEGATIVE if measure == "negative" else BAR
    desc = "; ".join(f"{name}: {text}" for name, _, text in values)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'aria-labelledby="chart{number}-title chart{number}-desc" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart{number}-title">{escape(title)}</title>',
        f'<desc id="chart{number}-desc">{escape(desc)}</desc>',
    ]
    for index, (name, value, text) in enumerate(values):
        y = 4 + index * ROW_HEIGHT
        short = name if len(name) <= 32 else name[:31] + "\u2026"
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{y + 17}" text-anchor="end" '
                     f'fill="{TEXT}" font-size="14">{escape(short)}</text>')
        width = 0 if not value else max(2, round(BAR_WIDTH * value / (top or 1)))
        if width:
            parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width}" height="18" '
                         f'fill="{colour}"/>')
        shown = "<5" if text.startswith(("fewer", "not shown")) else text
        parts.append(f'<text x="{LABEL_WIDTH + width + 6}" y="{y + 17}" fill="{TEXT}" '
                     f'font-size="14">{escape(shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
