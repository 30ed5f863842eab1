"""bot.export: CSV and XLSX safe for spreadsheets, JSON as it is; themes in every row;
no "about you" answers in any row export."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from store_fixtures import clock_fixture, postgres_url_fixture, store_fixture, store_url_fixture  # noqa: F401

from bot.anonymiser import anonymise
from bot.export import (
    ABOUT_YOU_KEYS,
    BOM,
    COLUMNS,
    neutralise_cell,
    write_csv,
    write_html_report,
    write_json,
    write_xlsx,
)

STARTS = ["=", "+", "-", "@"]
# Spreadsheets skip white space before a formula: spaces, tabs, NBSP, newlines, CR.
LEADING = [" ", "   ", "\u00a0", "\n", "\r\n", " \t", "\u3000", "\u200b", "\u00a0 \n"]
DANGEROUS = [
    "=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\0=1", "\t", "\r", "\0", "\tplain",
    "\rplain", "\0plain", '=HYPERLINK("x")', "＝1", "-5 stars", "+44 20 7946 0000",
    *[space + start + "cmd" for space in LEADING for start in STARTS],
]
SAFE = ["hello", "1", "3.5", "good; quick", "a=b", "1-2", "'quoted", "", " ", "  hello",
        "\u00a0text", "\nline", "e@mail", "café=bar"]
UNICODE_TEXTS = [
    "مرحبا، كانت الممرضة لطيفة جدا",  # Arabic (right to left)
    "שלום, הצוות היה נהדר",  # Hebrew (right to left)
    "\u202eRTL override then text",
    "Diolch yn fawr – ŵ ŷ",  # Welsh
    "Dziękuję, było świetnie",  # Polish
    "非常感谢",  # Chinese
    "Great care 👍🏽👩‍⚕️❤️",  # emoji, skin tone, ZWJ sequence
    "نرس بہت مہربان تھی، شکریہ",  # Urdu (right to left)
    "নার্স খুব ভালো ছিলেন, ধন্যবাদ",  # Bengali
    "Медсестра була дуже уважна, дякую",  # Ukrainian
]
# Quotes, commas and newlines inside cells, which CSV must quote and keep.
AWKWARD_TEXTS = ['She said "thanks", then left', "line one\nline two", "a,b;c", '"', ",",
                 "end with a newline\n", "windows\r\nline"]


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
        "themes": [],
        "sentiment": None,
        "themes_corrected": False,
    }
    return {**base, **values}


def read_csv_file(path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("value", DANGEROUS)
def test_neutralise_cell_prefixes_each_dangerous_start(value):
    assert neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", SAFE)
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
        "",
        "",
        "no",
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
    texts = [*UNICODE_TEXTS, *AWKWARD_TEXTS]
    path = tmp_path / "out.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        write_csv([row(text=value) for value in texts], handle)
    rows = read_csv_file(path)
    assert [cells[COLUMNS.index("text")] for cells in rows[1:]] == texts


def test_json_round_trips_unicode(tmp_path):
    rows = [row(text=value, choices="good; quick", themes=["Waiting times"], sentiment=3)
            for value in [*UNICODE_TEXTS, *AWKWARD_TEXTS, *DANGEROUS]]
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
    assert (loaded["themes"], loaded["sentiment"], loaded["themes_corrected"]) == ([], None, False)


def test_json_gives_a_row_without_theme_fields_an_empty_list():
    stream = io.StringIO()
    bare = {k: v for k, v in row().items() if k not in ("themes", "themes_corrected")}
    write_json([bare], stream)
    [loaded] = json.loads(stream.getvalue())
    assert (loaded["themes"], loaded["themes_corrected"]) == ([], False)


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


# --- XLSX cells -------------------------------------------------------------------------------


def xlsx_rows(data: bytes, sheet: str = "Answers") -> list[list]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    return [list(cells) for cells in book[sheet].values]


def xlsx_of(rows: list[dict], **kwargs) -> list[list]:
    out = io.BytesIO()
    assert write_xlsx(rows, out, **kwargs) == len(rows)
    return xlsx_rows(out.getvalue())


def as_read_from_xlsx(value: str) -> str:
    """XML holds no NUL (written as U+FFFD), and an XML reader turns CR and CRLF into LF."""
    return value.replace("\0", "\ufffd").replace("\r\n", "\n").replace("\r", "\n")


def test_xlsx_neutralises_formulas_in_every_column():
    rows = [row(text=v, text_en=v, choices=v, service=v, themes=[v]) for v in DANGEROUS]
    header, *cells = xlsx_of(rows)
    assert header == list(COLUMNS)
    for value, got in zip(DANGEROUS, cells, strict=True):
        record = dict(zip(header, got, strict=True))
        for column in ("text", "text_en", "choices", "service", "themes"):
            cell = record[column]
            assert cell == "'" + as_read_from_xlsx(value), (column, value, cell)


def test_xlsx_keeps_unicode_quotes_commas_newlines_and_safe_values():
    texts = [*UNICODE_TEXTS, *AWKWARD_TEXTS, *SAFE]
    header, *cells = xlsx_of([row(text=value) for value in texts])
    got = [cells_[header.index("text")] or "" for cells_ in cells]
    assert got == [as_read_from_xlsx(value) for value in texts]
    assert "نرس بہت مہربان تھی، شکریہ" in got and "Медсестра була дуже уважна, дякую" in got


# --- themes, sentiment and corrections in the rows ------------------------------------------


def test_csv_and_xlsx_join_themes_and_say_if_corrected():
    rows = [row(themes=["Waiting times", "Staff manner & personal attributes"], sentiment=4,
                themes_corrected=True),
            row(themes=["Food & drink provision & facilities"], sentiment=2),
            row()]
    stream = io.StringIO()
    write_csv(rows, stream, bom=False)
    parsed = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert [(r["themes"], r["sentiment"], r["themes_corrected"]) for r in parsed] == [
        ("Waiting times; Staff manner & personal attributes", "4", "yes"),
        ("Food & drink provision & facilities", "2", "no"),
        ("", "", "no"),
    ]
    header, *cells = xlsx_of(rows)
    picked = [tuple(c[header.index(k)] for k in ("themes", "sentiment", "themes_corrected"))
              for c in cells]
    assert picked == [("Waiting times; Staff manner & personal attributes", 4, "yes"),
                      ("Food & drink provision & facilities", 2, "no"), (None, None, "no")]


def test_xlsx_neutralises_a_sentiment_that_is_not_a_number():
    header, cells = xlsx_of([row(sentiment="=1+1")])
    assert cells[header.index("sentiment")] == "'=1+1"


# --- empty results ------------------------------------------------------------------------------


def test_empty_csv_is_a_valid_file_with_the_header(tmp_path):
    path = tmp_path / "empty.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        assert write_csv([], handle) == 0
    assert path.read_bytes().startswith(BOM.encode("utf-8"))
    assert read_csv_file(path) == [list(COLUMNS)]


def test_empty_json_is_an_empty_list():
    stream = io.StringIO()
    assert write_json(iter([]), stream) == 0
    assert json.loads(stream.getvalue()) == [] and stream.getvalue() == "[]\n"


def test_empty_xlsx_has_the_header_and_a_summary(tmp_path):
    from bot.staff.queries import Filters, summarise
    from bot.store import Store

    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        out = io.BytesIO()
        assert write_xlsx([], out, summary=summarise(store, Filters())) == 0
    finally:
        store.close()
    assert xlsx_rows(out.getvalue()) == [list(COLUMNS)]
    summary = [c for cells in xlsx_rows(out.getvalue(), "Summary") for c in cells if c is not None]
    assert "Responses" in summary and 0 in summary


def test_empty_html_report_says_there_is_nothing_yet(tmp_path):
    from bot.staff.queries import Filters, summarise
    from bot.store import Store

    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        stream = io.StringIO()
        write_html_report(summarise(store, Filters()), stream, today=date(2024, 3, 1))
    finally:
        store.close()
    page = stream.getvalue()
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<strong>0</strong> responses" in page
    assert "No responses match these filters." in page


# --- rows from the store: themes per batch, no "about you" -------------------------------------


def test_about_you_keys_are_the_whole_equality_monitoring_section():
    assert ABOUT_YOU_KEYS == {
        "about_you", "age_band", "ethnic_group", "ethnic_white", "ethnic_mixed", "ethnic_asian",
        "ethnic_black", "ethnic_other", "religion", "sexual_orientation", "gender_identity",
        "long_term_condition", "condition_impact", "communication_needs", "housing",
    }


ABOUT_YOU_ANSWERS = {  # question key: choices, each value told apart from other answers
    "about_you": ["yes"], "age_band": ["age_85_plus"], "ethnic_group": ["ethnic_white"],
    "ethnic_white": ["white_gypsy_traveller"], "religion": ["religion_sikh"],
    "sexual_orientation": ["bisexual"], "gender_identity": ["prefer_not"],
    "long_term_condition": ["yes"], "condition_impact": ["impact_a_lot"],
    "communication_needs": ["bsl", "large_print"], "housing": ["housing_prison"],
}


def fill_store(store, clock, responses: int = 3) -> list[str]:
    """Responses with a rating, a themed comment, an unthemed one and every about-you answer."""
    ids = []
    for n in range(responses):
        clock.day = date(2024, 3, 1 + n)
        rid = store.start_response(language="en", channel="web")
        store.update_response(rid, service="maternity", respondent="patient")
        store.save_answer(rid, "rating", choices=["good"])
        store.save_answer(rid, "rating_reason", text=anonymise(f"Kind staff {n}"))
        store.save_answer(rid, "improve", text=anonymise(f"Shorter waits {n}"))
        for key, choices in ABOUT_YOU_ANSWERS.items():
            store.save_answer(rid, key, choices=choices)
        store.save_answer(rid, "involvement", choices=["no"])
        ids.append(rid)
    for answer in store.unthemed_answers(100):
        if answer.text.startswith("Kind"):
            store.save_themes(answer.answer_id, ["Staff manner & personal attributes"], 1, "t")
    return ids


def assert_no_about_you(text: str) -> None:
    """No about-you question key, and none of the values only about-you answers hold."""
    for key in ABOUT_YOU_KEYS:
        assert f'"{key}"' not in text and f",{key}," not in text, key
    for key, values in ABOUT_YOU_ANSWERS.items():
        for value in values:
            if value not in ("yes", "no", "prefer_not"):
                assert value not in text, (key, value)


def test_store_rows_carry_themes_and_leave_out_about_you(store, clock):
    ids = fill_store(store, clock)
    rows = store.export_rows()
    assert [(r["response_id"], r["question_key"]) for r in rows] == [
        (rid, key) for rid in ids for key in ("rating", "rating_reason", "improve", "involvement")
    ]
    kind = [r for r in rows if r["question_key"] == "rating_reason"]
    assert {(tuple(r["themes"]), r["sentiment"], r["themes_corrected"]) for r in kind} == {
        (("Staff manner & personal attributes",), 1, False)}
    other = [r for r in rows if r["question_key"] != "rating_reason"]
    assert {(tuple(r["themes"]), r["sentiment"], r["themes_corrected"]) for r in other} == {
        ((), None, False)}
    assert_no_about_you(json.dumps(rows))


def test_store_rows_say_when_staff_corrected_the_themes(store, clock):
    fill_store(store, clock, responses=1)
    [improve] = [a for a in store.unthemed_answers(100) if a.text.startswith("Shorter")]
    assert store.correct_themes(improve.answer_id, ["Waiting times"], 4)
    [row_] = [r for r in store.export_rows() if r["question_key"] == "improve"]
    assert (row_["themes"], row_["sentiment"], row_["themes_corrected"]) == (
        ["Waiting times"], 4, True)


def test_store_reads_themes_with_each_batch_not_each_row(store, clock):
    from sqlalchemy import event

    fill_store(store, clock, responses=7)
    reads: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        reads.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        rows = list(store.iter_export_rows(batch=3))
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert len(rows) == 7 * 4
    assert len(reads) == 2 * 3  # responses and answers-with-themes, for 3 batches (3, 3, 1)
    assert all("answer_themes" in statement for statement in reads[1::2])


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_no_about_you_answer_in_any_row_export(store, clock, fmt):
    fill_store(store, clock)
    rows = store.export_rows()
    if fmt == "csv":
        stream = io.StringIO()
        write_csv(rows, stream, bom=False)
        text = stream.getvalue()
    elif fmt == "json":
        stream = io.StringIO()
        write_json(rows, stream)
        text = stream.getvalue()
    else:
        text = json.dumps(xlsx_of(rows))
    assert_no_about_you(text)
    assert "Kind staff 0" in text and "Staff manner & personal attributes" in text
