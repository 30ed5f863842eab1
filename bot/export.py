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
