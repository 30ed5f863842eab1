"""CSV, JSON and XLSX exports of the answers, for the patient experience team.

Row-level exports never hold the optional "about you" (equality monitoring) answers
(:data:`ABOUT_YOU_KEYS`): beside the day, service, language and free text they would let a
small group be singled out, and undo the small-number suppression of the summary. They are
counted only in aggregate (the XLSX "Summary" sheet and the HTML report, fewer than 5 shown
as "<5"). ``bot.store.Store.iter_export_rows`` leaves them out in its query, so they are never
even read for a row export.

Every row export has the columns of :data:`COLUMNS`, in this order:

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
``themes``       the QDC themes of a free-text answer (``answer_themes``): joined with ``"; "``
                 in CSV and XLSX, a list in JSON; empty when it has none (yet)
``sentiment``    1 (very positive) to 5 (very negative); empty (JSON ``null``) if none
``themes_corrected``  ``yes``/``no`` (JSON ``true``/``false``): the themes were set by staff

CSV and XLSX cells that a spreadsheet would run as a formula are neutralised (see
:func:`neutralise_cell`) and NUL characters, which CSV cannot hold, become U+FFFD; JSON
values are written as they are.

CSV and JSON are written as the rows come (:func:`csv_chunks`, :func:`json_chunks`), so an
export of any size needs little memory: the staff app streams the chunks, the command line
writes them to the file. XLSX is a zip file, finished only at the end: openpyxl's write-only
mode keeps the rows in a temporary file, and a sheet holds at most :data:`XLSX_MAX_ROWS`
answers (Excel's limit), beyond which :func:`write_xlsx` raises :class:`TooManyRows`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TextIO

from bot.questions import FLOW

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
    "themes",
    "sentiment",
    "themes_corrected",
)
# What a JSON row holds for a column its source row lacks (a list, not null, for themes).
JSON_DEFAULTS = {"themes": [], "themes_corrected": False}


def _about_you_keys() -> frozenset[str]:
    """The "about you" section of the conversation: its permission question and every
    question after it up to "involvement". Taken from the flow, so a question added to the
    section is kept out of row exports without anyone having to remember to list it."""
    keys = [question.key for question in FLOW]
    return frozenset(keys[keys.index("about_you"):keys.index("involvement")])


ABOUT_YOU_KEYS = _about_you_keys()

# Excel, LibreOffice and Google Sheets treat these first characters as the start of a formula
# (tab, CR and NUL can hide one); the full-width forms are included for safety.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Characters a spreadsheet may skip before a formula: any Unicode white space (space, tab,
# newline, CR, NBSP, ideographic space ...; str.isspace) and these invisible ones.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
BOM = "\ufeff"
CHUNK_ROWS = 500  # rows per chunk of a streamed CSV or JSON export
XLSX_MAX_ROWS = 1_048_575  # Excel's 1,048,576 rows a sheet, less the header


def neutralise_cell(value: object) -> str:
    """The cell as text, with a leading ``'`` if it could start a spreadsheet formula.

    Spreadsheets skip leading white space before a formula (``" =1"``, ``"\\n+1"``,
    ``"\\u00a0@x"``), so the first character that is neither white space nor invisible
    decides; a leading tab, CR or NUL is neutralised whatever follows it.
    """
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_STARTS) or _first_visible(text).startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _first_visible(text: str) -> str:
    """``text`` from its first character that is neither white space nor invisible."""
    for index, char in enumerate(text):
        if not (char.isspace() or char in INVISIBLE):
            return text[index:]
    return ""


def cell_text(column: str, value: object) -> object:
    """A row's value as a spreadsheet cell: themes joined with ``"; "``, the corrected flag
    as yes/no, None as empty; other values as they are (see :func:`neutralise_cell`)."""
    if column == "themes" and isinstance(value, (list, tuple)):
        return "; ".join(value)
    if column == "themes_corrected":
        return "yes" if value else "no"
    return value


def _csv_cell(column: str, value: object) -> str:
    # Python's csv module cannot write NUL; show it as U+FFFD rather than fail the export.
    return neutralise_cell(cell_text(column, value)).replace("\0", "\ufffd")


def _ordered(row: Mapping) -> dict:
    return {column: row.get(column, JSON_DEFAULTS.get(column)) for column in COLUMNS}


class Tally:
    """Counts the rows that pass through it, for the audit line and the command's message.

    Exports stream, so the count is known only once the last row has gone. ``responses``
    counts changes of ``response_id``: exact for rows grouped by response, as exports are.
    """

    def __init__(self, rows: Iterable[Mapping]):
        self._rows = iter(rows)
        self.count = 0
        self.responses = 0
        self._last: object = None

    def __iter__(self) -> Iterator[Mapping]:
        for row in self._rows:
            self.count += 1
            if row.get("response_id") != self._last:
                self.responses += 1
                self._last = row.get("response_id")
            yield row


def csv_chunks(rows: Iterable[Mapping], *, bom: bool = True, batch: int = CHUNK_ROWS
               ) -> Iterator[str]:
    """The CSV (header first, then ``batch`` rows a chunk) as text chunks, made lazily."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if bom:
        buffer.write(BOM)
    writer.writerow(COLUMNS)
    yield _take(buffer)  # the header goes before the first row is read
    for number, row in enumerate(rows, 1):
        writer.writerow([_csv_cell(column, row.get(column)) for column in COLUMNS])
        if number % batch == 0:
            yield _take(buffer)
    if buffer.tell():
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def json_chunks(rows: Iterable[Mapping], *, batch: int = CHUNK_ROWS) -> Iterator[str]:
    """One JSON list of objects as text chunks, byte for byte what ``json.dump(list,
    indent=2)`` writes (plus a final newline), without holding the list."""
    yield "["
    parts: list[str] = []
    first = True
    for row in rows:
        # Indenting the lines of one object by 2 gives the nesting of the list: JSON strings
        # never hold a raw newline, so only the layout's own newlines are touched.
        item = json.dumps(_ordered(row), ensure_ascii=False, indent=2).replace("\n", "\n  ")
        parts.append(("\n  " if first else ",\n  ") + item)
        first = False
        if len(parts) >= batch:
            yield "".join(parts)
            parts = []
    yield "".join(parts) + ("]\n" if first else "\n]\n")


def write_csv(rows: Iterable[Mapping], stream: TextIO, *, bom: bool = True) -> int:
    """Write ``rows`` as CSV with a header, as they come; return the number of rows.

    Open files with ``encoding="utf-8", newline=""``. ``bom`` writes a UTF-8 byte order mark
    first so Excel reads the file as UTF-8; pass ``bom=False`` for pipes and standard output.
    """
    tally = Tally(rows)
    for chunk in csv_chunks(tally, bom=bom):
        stream.write(chunk)
    return tally.count


def write_json(rows: Iterable[Mapping], stream: TextIO) -> int:
    """Write ``rows`` as one JSON list of objects (keys in column order), as they come;
    return the count."""
    tally = Tally(rows)
    for chunk in json_chunks(tally):
        stream.write(chunk)
    return tally.count


# --- XLSX and the one-page HTML report (the staff app, issue 7) --------------------------------

# openpyxl refuses the control characters XML 1.0 cannot hold; show them as U+FFFD instead.
_XML_ILLEGAL = {c: "\ufffd" for c in [*range(0, 9), 11, 12, *range(14, 32)]}


def _xlsx_cell(value: object) -> str:
    return neutralise_cell(value).translate(_XML_ILLEGAL)


def _xlsx_row(row: Mapping) -> list:
    """An "Answers" row: every cell neutralised text, but the sentiment a number (it cannot
    hold a formula, and a number lets staff sort and average it)."""
    return [_xlsx_value(column, row.get(column)) for column in COLUMNS]


def _xlsx_value(column: str, value: object) -> object:
    if column == "sentiment" and isinstance(value, int) and not isinstance(value, bool):
        return value
    return _xlsx_cell(cell_text(column, value))


class TooManyRows(ValueError):
    """More answers than an Excel sheet can hold: use CSV, or narrow the range."""


def write_xlsx(rows: Iterable[Mapping], stream, *, summary=None,
               max_rows: int = XLSX_MAX_ROWS) -> int:
    """Write ``rows`` as an Excel workbook to the binary ``stream``; return the row count.

    Sheet "Answers" has :data:`COLUMNS`, every cell text (the sentiment a number) and
    neutralised like CSV cells; like every row export it holds no "about you" answers.
    With ``summary`` (a :class:`bot.staff.queries.Summary`), sheet "Summary" has its tables,
    small numbers suppressed as on the dashboard, and a bar chart of the top themes (or of
    responses by month when there are no themes). Raises :class:`TooManyRows`, before
    anything is written to ``stream``, when there are more than ``max_rows`` rows.
    """
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    if summary is not None:
        _xlsx_summary(book, summary)
    sheet = book.create_sheet("Answers")
    sheet.append(list(COLUMNS))
    count = 0
    try:
        for row in rows:
            if count == max_rows:
                raise TooManyRows(f"more than {max_rows} answers: too many for one Excel sheet")
            sheet.append(_xlsx_row(row))
            count += 1
    except BaseException:
        _discard(book)
        raise
    book.save(stream)
    return count


def _discard(book) -> None:
    """Close a write-only workbook that will not be saved and delete its temporary files
    (openpyxl would only delete them when the process ends)."""
    for sheet in book.worksheets:
        with contextlib.suppress(Exception):
            sheet.close()
            sheet._writer.cleanup()


def _total(count: int) -> int | str:
    """A total of the summary sheet as the dashboard and report show it: 1 to 4 is "<5"
    (so a narrow filter cannot count a handful of people), other counts stay numbers."""
    from bot.staff.queries import count_text

    text = count_text(count)
    return int(text) if text.isdigit() else text


def _xlsx_summary(book, summary) -> None:
    from openpyxl.chart import BarChart, Reference

    sheet = book.create_sheet("Summary")
    sheet.append(["Patient feedback summary"])
    sheet.append(["Filters", _xlsx_cell(summary.filters.describe())])
    sheet.append(["Responses", _total(summary.responses)])
    sheet.append(["Comments", _total(summary.comments)])
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
