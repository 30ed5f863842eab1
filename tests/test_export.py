"""bot.export: CSV safe for spreadsheets, JSON as it is."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bot.export import BOM, COLUMNS, neutralise_cell, write_csv, write_json

DANGEROUS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\0=1", '=HYPERLINK("x")', "＝1"]
UNICODE_TEXTS = [
    "مرحبا، كانت الممرضة لطيفة جدا",  # Arabic (right to left)
    "שלום, הצוות היה נהדר",  # Hebrew (right to left)
    "\u202eRTL override then text",
    "Diolch yn fawr – ŵ ŷ",  # Welsh
    "Dziękuję, było świetnie",  # Polish
    "非常感谢",  # Chinese
    "Great care 👍🏽👩‍⚕️❤️",  # emoji, skin tone, ZWJ sequence
]


def row(**values) -> dict:
    base = {
        "response_id": "a" * 32,
        "status": "complete",
        "created_on": "2024-03-01",
        "answered_on": "2024-03-02",
        "question_key": "comment",
        "choices": None,
        "text": None,
        "text_en": None,
        "translation_state": "not_needed",
        "language": "en",
        "channel": "web",
        "service": "ae",
        "respondent": "patient",
    }
    return {**base, **values}


def read_csv_file(path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("value", DANGEROUS)
def test_neutralise_cell_prefixes_each_dangerous_start(value):
    assert neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["hello", "1", "3.5", "good; quick", "a=b", " =1", "'quoted", ""])
def test_neutralise_cell_leaves_safe_values(value):
    assert neutralise_cell(value) == value


def test_neutralise_cell_writes_none_as_empty():
    assert neutralise_cell(None) == ""


@pytest.mark.parametrize("value", DANGEROUS)
def test_csv_neutralises_formulas_in_every_column(tmp_path, value):
    path = tmp_path / "out.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        write_csv([row(text=value, text_en=value, choices=value, service=value)], handle)
    header, cells = read_csv_file(path)
    record = dict(zip(header, cells, strict=True))
    expected = "'" + value.replace("\0", "\ufffd")
    assert record["text"] == record["text_en"] == record["choices"] == record["service"]
    assert record["text"] == expected


def test_csv_replaces_nul_anywhere():
    stream = io.StringIO()
    write_csv([row(text="a\0b")], stream, bom=False)
    assert "a\ufffdb" in stream.getvalue()


def test_csv_file_starts_with_a_bom_and_has_the_fixed_header(tmp_path):
    path = tmp_path / "out.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        rows = [row(text="fine", text_en="fine"), row(question_key="overall")]
        assert write_csv(rows, handle) == 2
    assert path.read_bytes().startswith(BOM.encode("utf-8"))
    assert path.read_bytes().count(BOM.encode("utf-8")) == 1
    rows = read_csv_file(path)
    assert rows[0] == list(COLUMNS)
    assert rows[1] == [
        "a" * 32,
        "complete",
        "2024-03-01",
        "2024-03-02",
        "comment",
        "",
        "fine",
        "fine",
        "not_needed",
        "en",
        "web",
        "ae",
        "patient",
    ]
    assert len(rows) == 3


def test_translation_columns_follow_the_original_text():
    assert COLUMNS[COLUMNS.index("text") :][:4] == (
        "text",
        "text_en",
        "translation_state",
        "language",
    )
    stream = io.StringIO()
    original = "Dziękuję, było świetnie"
    write_csv(
        [
            row(text=original, language="pl", translation_state="pending"),
            row(text=original, language="pl", text_en="Thank you", translation_state="done"),
        ],
        stream,
        bom=False,
    )
    header, pending, done = csv.reader(io.StringIO(stream.getvalue()))
    assert dict(zip(header, pending, strict=True))["text_en"] == ""
    assert dict(zip(header, done, strict=True))["text_en"] == "Thank you"
    assert [r[header.index("text")] for r in (pending, done)] == [original, original]
    assert [r[header.index("translation_state")] for r in (pending, done)] == ["pending", "done"]


def test_csv_without_bom_for_pipes():
    stream = io.StringIO()
    write_csv([row()], stream, bom=False)
    assert stream.getvalue().startswith("response_id,")


def test_csv_round_trips_unicode_quotes_and_newlines(tmp_path):
    texts = [*UNICODE_TEXTS, 'She said "thanks", then left', "line one\nline two", "a,b;c"]
    path = tmp_path / "out.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        write_csv([row(text=value) for value in texts], handle)
    rows = read_csv_file(path)
    assert [cells[COLUMNS.index("text")] for cells in rows[1:]] == texts


def test_json_round_trips_unicode(tmp_path):
    rows = [row(text=value, choices="good; quick") for value in UNICODE_TEXTS]
    path = tmp_path / "out.json"
    with open(path, "w", encoding="utf-8") as handle:
        assert write_json(rows, handle) == len(rows)
    raw = path.read_text(encoding="utf-8")
    assert UNICODE_TEXTS[0] in raw and "👍🏽" in raw  # ensure_ascii=False: no \\u escapes
    assert json.loads(raw) == rows


def test_json_keeps_column_order_and_values_as_they_are():
    stream = io.StringIO()
    write_json([{**row(text="=1+1"), "extra": "dropped"}], stream)
    [loaded] = json.loads(stream.getvalue())
    assert list(loaded) == list(COLUMNS)
    assert loaded["text"] == "=1+1" and loaded["choices"] is None


def test_json_of_no_rows_is_an_empty_list():
    stream = io.StringIO()
    assert write_json([], stream) == 0
    assert json.loads(stream.getvalue()) == []


# --- streaming writers ----------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7])
def test_json_chunks_write_what_json_dump_wrote(count):
    from bot.export import json_chunks

    rows = [row(text=UNICODE_TEXTS[n % len(UNICODE_TEXTS)] + '\n"x"', response_id=str(n))
            for n in range(count)]
    chunks = list(json_chunks(iter(rows), batch=2))
    expected = json.dumps([row_ for row_ in rows], ensure_ascii=False, indent=2) + "\n"
    assert "".join(chunks) == expected
    assert len(chunks) == 2 + count // 2  # "[", one per 2 rows, the rest and "]"


def test_csv_chunks_are_made_as_the_rows_come():
    from bot.export import csv_chunks

    taken: list[int] = []

    def rows():
        for n in range(5):
            taken.append(n)
            yield row(text=f"=cmd {n}")

    chunks = csv_chunks(rows(), bom=True, batch=2)
    assert next(chunks).startswith(BOM + "response_id,") and taken == []  # header first
    assert next(chunks).count("'=cmd") == 2 and taken == [0, 1]
    rest = list(chunks)
    assert len(rest) == 2 and taken == [0, 1, 2, 3, 4]
    assert "".join(rest).count("'=cmd") == 3


def test_tally_counts_rows_and_responses_as_they_pass():
    from bot.export import Tally

    tally = Tally([row(response_id="a"), row(response_id="a"), row(response_id="b")])
    assert (tally.count, tally.responses) == (0, 0)
    assert write_csv(tally, io.StringIO(), bom=False) == 3
    assert (tally.count, tally.responses) == (3, 2)


def test_xlsx_refuses_more_rows_than_a_sheet_holds():
    from bot.export import XLSX_MAX_ROWS, TooManyRows, write_xlsx

    assert XLSX_MAX_ROWS == 2**20 - 1
    out = io.BytesIO()
    assert write_xlsx([row(), row()], out, max_rows=2) == 2 and out.getvalue()
    out = io.BytesIO()
    with pytest.raises(TooManyRows):
        write_xlsx([row(), row(), row()], out, max_rows=2)
    assert out.getvalue() == b""  # nothing half-written
