"""CSV and JSON exports of the answers, for the patient experience team.

Every export has the columns of :data:`COLUMNS`, in this order:

``response_id``  random id of the response (not linked to any phone number or sender id)
``status``       ``in_progress``, ``complete`` or ``stopped``
``created_on``   day the response was started (YYYY-MM-DD)
``answered_on``  day this answer was last given (YYYY-MM-DD)
``question_key`` which question
``choices``      the chosen options, joined with ``"; "`` (empty if none)
``text``         anonymised free text as the patient wrote it (empty if none)
``text_en``      the same text in English, anonymised again after translation; equal to
                 ``text`` for English answers, empty while the translation is pending
``translation_state``  ``not_needed`` (English, or no text), ``pending`` (waiting for
                 ``patient-voice translate-pending``) or ``done``
``language``     language the answer was given in (the language of ``text``)
``channel``      channel the answer came through
``service``      service the response is about
``respondent``   ``patient`` or ``helper`` (empty if not said)

CSV cells that a spreadsheet would run as a formula are neutralised (see
:func:`neutralise_cell`) and NUL characters, which CSV cannot hold, become U+FFFD; JSON
values are written as they are.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from typing import TextIO

COLUMNS = (
    "response_id",
    "status",
    "created_on",
    "answered_on",
    "question_key",
    "choices",
    "text",
    "text_en",
    "translation_state",
    "language",
    "channel",
    "service",
    "respondent",
)

# Excel, LibreOffice and Google Sheets treat these first characters as the start of a formula
# (tab, CR and NUL can hide one); the full-width forms are included for safety.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")
BOM = "\ufeff"


def neutralise_cell(value: object) -> str:
    """The cell as text, with a leading ``'`` if it could start a spreadsheet formula."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_cell(value: object) -> str:
    # Python's csv module cannot write NUL; show it as U+FFFD rather than fail the export.
    return neutralise_cell(value).replace("\0", "\ufffd")


def _ordered(row: Mapping) -> dict:
    return {column: row.get(column) for column in COLUMNS}


def write_csv(rows: Iterable[Mapping], stream: TextIO, *, bom: bool = True) -> int:
    """Write ``rows`` as CSV with a header; return the number of rows.

    Open files with ``encoding="utf-8", newline=""``. ``bom`` writes a UTF-8 byte order mark
    first so Excel reads the file as UTF-8; pass ``bom=False`` for pipes and standard output.
    """
    if bom:
        stream.write(BOM)
    writer = csv.writer(stream)
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(row.get(column)) for column in COLUMNS])
        count += 1
    return count


def write_json(rows: Iterable[Mapping], stream: TextIO) -> int:
    """Write ``rows`` as one JSON list of objects (keys in column order); return the count."""
    ordered = [_ordered(row) for row in rows]
    json.dump(ordered, stream, ensure_ascii=False, indent=2)
    stream.write("\n")
    return len(ordered)


# --- XLSX and the one-page HTML report (the staff app, issue 7) --------------------------------

# openpyxl refuses the control characters XML 1.0 cannot hold; show them as U+FFFD instead.
_XML_ILLEGAL = {c: "\ufffd" for c in [*range(0, 9), 11, 12, *range(14, 32)]}


def _xlsx_cell(value: object) -> str:
    return neutralise_cell(value).translate(_XML_ILLEGAL)


def write_xlsx(rows: Iterable[Mapping], stream, *, summary=None) -> int:
    """Write ``rows`` as an Excel workbook to the binary ``stream``; return the row count.

    Sheet "Answers" has :data:`COLUMNS`, every cell text and neutralised like CSV cells.
    With ``summary`` (a :class:`bot.staff.queries.Summary`), sheet "Summary" has its tables,
    small numbers suppressed as on the dashboard, and a bar chart of the top themes (or of
    responses by month when there are no themes).
    """
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    if summary is not None:
        _xlsx_summary(book, summary)
    sheet = book.create_sheet("Answers")
    sheet.append(list(COLUMNS))
    count = 0
    for row in rows:
        sheet.append([_xlsx_cell(row.get(column)) for column in COLUMNS])
        count += 1
    book.save(stream)
    return count


def _xlsx_summary(book, summary) -> None:
    from openpyxl.chart import BarChart, Reference

    sheet = book.create_sheet("Summary")
    sheet.append(["Patient feedback summary"])
    sheet.append(["Filters", _xlsx_cell(summary.filters.describe())])
    sheet.append(["Responses", summary.responses])
    sheet.append(["Comments", summary.comments])
    sheet.append(["Counts from 1 to 4 are shown as <5 and their percentages are hidden."])
    line = 6
    chart_table = summary.tables["themes"]
    if not chart_table.rows:
        chart_table = summary.tables["responses_by_month"]
    chart_at = None
    for table in summary.tables.values():
        sheet.append([])
        sheet.append([table.title])
        sheet.append(table.headers())
        line += 3
        if table is chart_table:
            chart_at = (line, line + len(table.rows) - 1)
        for row in table.rows:
            cells = table.cells(row)
            first = cells[0]
            number = int(first) if first.isdigit() else first  # numbers, so the chart can plot
            sheet.append([_xlsx_cell(row.label), number, *cells[1:]])
            line += 1
    if chart_at and chart_at[1] >= chart_at[0]:
        chart = BarChart()
        chart.type = "bar"
        chart.title = chart_table.title
        chart.y_axis.title = "Count"
        chart.legend = None
        chart.add_data(Reference(sheet, min_col=2, min_row=chart_at[0], max_row=chart_at[1]))
        chart.set_categories(Reference(sheet, min_col=1, min_row=chart_at[0],
                                       max_row=chart_at[1]))
        sheet.add_chart(chart, "G2")


def write_html_report(summary, stream: TextIO, *, trust_name: str = "", today=None) -> None:
    """The one-page summary report (printable to PDF) for a co-production meeting.

    Only counts, percentages and themes: no answer text, small numbers suppressed.
    """
    from datetime import date

    from bot.staff.templating import render

    stream.write(render("report.html", summary=summary, trust_name=trust_name,
                        today=(today or date.today()).isoformat()))
