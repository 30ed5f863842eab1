"""The patient-voice command line against a temporary SQLite database."""

from __future__ import annotations

import csv
import json
from datetime import date

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool
from store_fixtures import Clock, fake_google_fixture  # noqa: F401  (fixture)

from bot.anonymiser import Anonymised
from bot.cli import main
from bot.export import ABOUT_YOU_KEYS, COLUMNS
from bot.store import Store

SECRET_TEXT = "The ward was cold at night"
ABOUT_YOU = {"about_you": ["yes"], "age_band": ["age_85_plus"],
             "sexual_orientation": ["bisexual"], "religion": ["religion_sikh"],
             "ethnic_group": ["ethnic_white"], "ethnic_white": ["white_gypsy_traveller"],
             "communication_needs": ["bsl"], "housing": ["housing_prison"]}
ABOUT_YOU_VALUES = ("age_85_plus", "bisexual", "religion_sikh", "ethnic_white",
                    "white_gypsy_traveller", "bsl", "housing_prison")


def assert_no_about_you(text: str) -> None:
    for key in ABOUT_YOU_KEYS:
        assert f'"{key}"' not in text and f",{key}," not in text, key
    for value in ABOUT_YOU_VALUES:
        assert value not in text, value


@pytest.fixture
def database(tmp_path):
    """Three responses on three days, for two services, each with "about you" answers (which
    no row export holds); returns (url, ids)."""
    url = f"sqlite:///{tmp_path / 'var' / 'cli.db'}"
    clock = Clock(date(2024, 1, 10))
    store = Store(url, today=clock)
    ids = []
    for day, service, language in ((10, "ae", "en"), (11, "maternity", "cy"), (12, "ae", "ar")):
        clock.day = date(2024, 1, day)
        response_id = store.start_response(language=language, channel="web")
        store.update_response(response_id, service=service, respondent="patient")
        store.save_answer(response_id, "overall", choices=["good", "=cmd|' /C calc'!A0"])
        store.save_answer(response_id, "comment", text=Anonymised(text=SECRET_TEXT, tags=()))
        for key, choices in ABOUT_YOU.items():
            store.save_answer(response_id, key, choices=choices)
        store.complete_response(response_id)
        ids.append(response_id)
    store.close()
    return url, ids


def read_csv(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


def test_export_csv_to_a_file(database, tmp_path, capsys):
    url, ids = database
    out = tmp_path / "answers.csv"
    assert main(["export", "--format", "csv", "-o", str(out), "--database-url", url]) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_csv(out)
    assert [(r["response_id"], r["question_key"]) for r in rows] == [
        (response_id, key) for response_id in ids for key in ("overall", "comment")
    ]
    assert rows[0]["choices"] == "good; =cmd|' /C calc'!A0"
    assert rows[1]["text"] == SECRET_TEXT and rows[1]["created_on"] == "2024-01-10"
    err = capsys.readouterr().err
    assert "6 answers from 3 responses" in err and SECRET_TEXT not in err


def test_export_csv_neutralises_a_formula_at_the_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    store = Store(url)
    response_id = store.start_response(language="en", channel="web")
    store.save_answer(response_id, "comment", text=Anonymised(text="=1+1", tags=()))
    store.close()
    out = tmp_path / "answers.csv"
    assert main(["export", "--format", "csv", "-o", str(out), "--database-url", url]) == 0
    assert read_csv(out)[0]["text"] == "'=1+1"


def test_export_json_with_filters(database, tmp_path, capsys):
    url, ids = database
    out = tmp_path / "answers.json"
    args = ["export", "--format", "json", "--since", "2024-01-11", "--until", "2024-01-12"]
    assert main([*args, "--service", "ae", "-o", str(out), "--database-url", url]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert {r["response_id"] for r in rows} == {ids[2]}
    assert [r["question_key"] for r in rows] == ["overall", "comment"]
    assert rows[0]["language"] == "ar" and rows[0]["created_on"] == "2024-01-12"
    assert list(rows[0]) == list(COLUMNS)
    assert "2 answers from 1 responses" in capsys.readouterr().err


def test_export_json_to_stdout(database, capsys):
    url, ids = database
    assert main(["export", "--format", "json", "--since", "2024-01-11", "--database-url", url]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [r["response_id"] for r in rows] == [ids[1], ids[1], ids[2], ids[2]]
    assert SECRET_TEXT not in captured.err


def test_export_csv_to_stdout_has_no_bom(database, capsys):
    url, _ = database
    assert main(["export", "--format", "csv", "--service", "maternity", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("response_id,") and len(out.splitlines()) == 3


def test_export_uses_database_url_from_the_environment(database, tmp_path, monkeypatch):
    url, _ = database
    monkeypatch.setenv("DATABASE_URL", url)
    out = tmp_path / "answers.json"
    assert main(["export", "--format", "json", "-o", str(out)]) == 0
    assert len(json.loads(out.read_text(encoding="utf-8"))) == 6


def test_export_of_an_empty_database(tmp_path):
    out = tmp_path / "answers.csv"
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["export", "--format", "csv", "-o", str(out), "--database-url", url]) == 0
    assert read_csv(out) == []


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_row_exports_hold_no_about_you_answers(database, tmp_path, fmt):
    url, ids = database
    out = tmp_path / f"answers.{fmt}"
    assert main(["export", "--format", fmt, "-o", str(out), "--database-url", url]) == 0
    if fmt == "xlsx":
        from openpyxl import load_workbook

        book = load_workbook(out)
        answers = [list(row) for row in book["Answers"].values]
        text = json.dumps(answers, default=str)
        assert {row[0] for row in answers[1:]} == set(ids)
        summary = [c for row in book["Summary"].values for c in row if c is not None]
        assert "Age band" in summary and "85 plus" in summary and "<5" in summary  # aggregate
    else:
        text = out.read_text(encoding="utf-8-sig")
    assert_no_about_you(text)
    assert SECRET_TEXT in text


# --- the staff app's filters on the command line --------------------------------------------

WAITING, STAFF = "Waiting times", "Staff manner & personal attributes"


@pytest.fixture
def filtered(tmp_path):
    """Four responses with ratings, barriers, languages and themed comments; returns
    (url, ids)."""
    from bot.anonymiser import anonymise

    url = f"sqlite:///{tmp_path / 'filters.db'}"
    clock = Clock(date(2024, 2, 1))
    store = Store(url, today=clock)
    plan = [  # day, service, language, rating, barriers, comment, theme, sentiment
        (date(2024, 2, 1), "maternity", "en", "very_good", ["travel"], "Kind midwives", STAFF, 1),
        (date(2024, 2, 2), "maternity", "pl", "poor", ["cost"], "Długo czekałem", WAITING, 5),
        (date(2024, 2, 3), "outpatients", "en", "very_poor", ["cost", "travel"],
         "Waited four hours", WAITING, 4),
        (date(2024, 3, 1), "outpatients", "en", "good", ["nothing"], None, None, None),
    ]
    ids = []
    for day, service, language, rating, barriers, comment, theme, sentiment in plan:
        clock.day = day
        rid = store.start_response(language=language, channel="web")
        store.update_response(rid, service=service, respondent="patient")
        store.save_answer(rid, "rating", choices=[rating])
        store.save_answer(rid, "barriers", choices=barriers)
        store.save_answer(rid, "age_band", choices=["age_85_plus"])
        if comment:
            store.save_answer(rid, "rating_reason", text=anonymise(comment))
            [pending] = store.pending_translations() or [None]
            if pending:
                store.set_translation(pending.answer_id, anonymise("I waited a long time"))
            [answer] = store.unthemed_answers(100)  # the others are themed already
            store.save_themes(answer.answer_id, [theme], sentiment, "test")
        ids.append(rid)
    store.close()
    return url, ids


FILTER_CASES = [
    (["--rating", "poor"], {1}),
    (["--language", "pl"], {1}),
    (["--theme", WAITING], {1, 2}),
    (["--sentiment", "5"], {1}),
    (["--barrier", "travel"], {0, 2}),
    (["--search", "FOUR hours"], {2}),
    (["--search", "long time"], {1}),  # the English translation is searched too
    (["--since", "2024-02-02", "--until", "2024-02-03", "--service", "outpatients"], {2}),
    (["--service", "outpatients", "--rating", "good"], {3}),
    (["--theme", "No such theme"], set()),
]


@pytest.mark.parametrize(("flags", "expected"), FILTER_CASES)
def test_export_filters_match_the_staff_app(filtered, tmp_path, flags, expected):
    from bot.staff.queries import Filters, export_rows

    url, ids = filtered
    out = tmp_path / "answers.json"
    assert main(["export", "--format", "json", *flags, "-o", str(out), "--database-url", url]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert {r["response_id"] for r in rows} == {ids[n] for n in expected}
    form = dict(zip([f.lstrip("-").replace("search", "q") for f in flags[::2]], flags[1::2],
                    strict=True))
    store = Store(url)
    try:
        assert rows == export_rows(store, Filters.parse(form))  # what the web would send
    finally:
        store.close()
    assert all(r["question_key"] != "age_band" for r in rows)


def test_export_rows_carry_themes_and_sentiment(filtered, tmp_path):
    url, ids = filtered
    out = tmp_path / "answers.csv"
    assert main(["export", "--format", "csv", "--theme", WAITING, "-o", str(out),
                 "--database-url", url]) == 0
    comments = [r for r in read_csv(out) if r["question_key"] == "rating_reason"]
    assert [(r["response_id"], r["themes"], r["sentiment"], r["themes_corrected"])
            for r in comments] == [(ids[1], WAITING, "5", "no"), (ids[2], WAITING, "4", "no")]


def test_xlsx_answers_and_summary_describe_the_same_responses(filtered, tmp_path, capsys):
    from openpyxl import load_workbook

    url, ids = filtered
    out = tmp_path / "answers.xlsx"
    assert main(["export", "--format", "xlsx", "--barrier", "cost", "-o", str(out),
                 "--database-url", url]) == 0
    assert "exported 6 answers from 2 responses" in capsys.readouterr().err
    book = load_workbook(out)
    answers = list(book["Answers"].values)
    assert {row[0] for row in answers[1:]} == {ids[1], ids[2]}
    summary = list(book["Summary"].values)
    assert summary[1][:2] == ("Filters", "barrier cost")
    assert summary[2][:2] == ("Responses", "<5")  # 2, suppressed as on the dashboard


def test_html_report_uses_the_filters(filtered, tmp_path, capsys):
    url, _ = filtered
    out = tmp_path / "report.html"
    assert main(["export", "--format", "html", "--language", "pl", "-o", str(out),
                 "--database-url", url]) == 0
    assert "exported a report of 1 responses" in capsys.readouterr().err
    assert "Filters: language pl." in out.read_text(encoding="utf-8")


def test_empty_exports_from_the_command_line(filtered, tmp_path):
    from openpyxl import load_workbook

    url, _ = filtered
    none = ["--since", "2030-01-01", "--database-url", url]
    for fmt in ("csv", "json", "xlsx", "html"):
        assert main(["export", "--format", fmt, "-o", str(tmp_path / f"e.{fmt}"), *none]) == 0
    assert read_csv(tmp_path / "e.csv") == []
    assert json.loads((tmp_path / "e.json").read_text(encoding="utf-8")) == []
    assert list(load_workbook(tmp_path / "e.xlsx")["Answers"].values) == [COLUMNS]
    assert "No responses match these filters." in (tmp_path / "e.html").read_text()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["export"],
        ["export", "--format", "csv", "--barrier", "nope"],
        ["export", "--format", "csv", "--rating", "great"],
        ["export", "--format", "csv", "--sentiment", "9"],
        ["export", "--format", "csv", "--sentiment", "bad"],
        ["export", "--format", "xml"],
        ["export", "--format", "csv", "--since", "2024-13-01"],
        ["export", "--format", "csv", "--until", "yesterday"],
        ["export", "--format", "csv", "--since", "2024-02-01", "--until", "2024-01-01"],
        ["frobnicate"],
        ["translate-pending", "--limit", "0"],
        ["translate-pending", "--limit", "many"],
        ["translate-pending", "--timeout", "-1"],
        ["translate-pending", "--timeout", "nan"],
    ],
)
def test_bad_arguments_exit_with_2(argv, capsys):
    assert main(argv) == 2
    assert "usage" in capsys.readouterr().err


def test_unwritable_output_exits_with_1(database, tmp_path):
    url, _ = database
    out = tmp_path / "missing" / "answers.csv"
    assert main(["export", "--format", "csv", "-o", str(out), "--database-url", url]) == 1


def test_migrate_creates_the_schema(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'var' / 'new.db'}"
    assert main(["migrate", "--database-url", url]) == 0
    engine = create_engine(url, future=True, poolclass=NullPool)
    assert {"responses", "answers", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    assert main(["migrate", "--database-url", url]) == 0


# --- translate-pending -----------------------------------------------------------------------
# The database fixture has one English, one Welsh and one Arabic comment: two are pending.


def export_json(url: str, tmp_path) -> list[dict]:
    out = tmp_path / "export.json"
    assert main(["export", "--format", "json", "-o", str(out), "--database-url", url]) == 0
    return [
        r for r in json.loads(out.read_text(encoding="utf-8")) if r["question_key"] == "comment"
    ]


def test_translate_pending_with_googletrans_against_a_fake_google(
    database, tmp_path, fake_google, capsys
):
    url, _ = database
    assert main(["translate-pending", "--database-url", url]) == 0
    captured = capsys.readouterr()
    assert captured.out == "translated 2, failed 0, still pending 0\n"
    assert SECRET_TEXT not in captured.out + captured.err
    assert sorted(r.url.params["sl"] for r in fake_google.requests) == ["ar", "cy"]
    rows = export_json(url, tmp_path)
    assert [(r["language"], r["text"], r["text_en"], r["translation_state"]) for r in rows] == [
        ("en", SECRET_TEXT, SECRET_TEXT, "not_needed"),
        ("cy", SECRET_TEXT, f"EN(cy): {SECRET_TEXT}", "done"),
        ("ar", SECRET_TEXT, f"EN(ar): {SECRET_TEXT}", "done"),
    ]
    assert main(["translate-pending", "--database-url", url]) == 0
    assert capsys.readouterr().out == "translated 0, failed 0, still pending 0\n"
    assert len(fake_google.requests) == 2


def test_translate_pending_exits_1_while_google_is_unavailable(
    database, tmp_path, fake_google, capsys
):
    url, _ = database
    fake_google.mode = "429"
    assert main(["translate-pending", "--database-url", url]) == 1
    captured = capsys.readouterr()
    assert captured.out == "translated 0, failed 1, still pending 2\n"
    assert "unavailable (HTTP 429)" in captured.err and SECRET_TEXT not in captured.err
    assert [r["translation_state"] for r in export_json(url, tmp_path)] == [
        "not_needed",
        "pending",
        "pending",
    ]
    fake_google.mode = "up"
    assert main(["translate-pending", "--database-url", url]) == 0
    assert capsys.readouterr().out == "translated 2, failed 0, still pending 0\n"


def test_translate_pending_exits_0_when_some_were_translated(database, fake_google, capsys):
    url, _ = database
    fake_google.upcoming = ["up", "503"]
    assert main(["translate-pending", "--database-url", url]) == 0
    captured = capsys.readouterr()
    assert captured.out == "translated 1, failed 1, still pending 1\n"
    assert "unavailable (HTTP 503)" in captured.err


def test_translate_pending_limit_and_timeout(database, fake_google, capsys):
    url, _ = database
    assert main(["translate-pending", "--limit", "1", "--database-url", url]) == 0
    assert capsys.readouterr().out == "translated 1, failed 0, still pending 1\n"
    fake_google.mode = "slow"
    fake_google.slow_seconds = 30
    args = ["translate-pending", "--timeout", "0.1", "--database-url", url]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == "translated 0, failed 1, still pending 1\n"
    assert "timed out" in captured.err


class UpperCaseTranslator:
    """Another translation service, plugged in through ``main(translator=...)``."""

    def __init__(self):
        self.calls: list[str] = []

    async def to_english(self, text: str, source: str) -> str:
        self.calls.append(source)
        return f"{text.upper()} 07700 900123"


def test_translate_pending_with_another_translator(database, tmp_path, fake_google, capsys):
    url, _ = database
    translator = UpperCaseTranslator()
    assert main(["translate-pending", "--database-url", url], translator=translator) == 0
    assert capsys.readouterr().out == "translated 2, failed 0, still pending 0\n"
    assert translator.calls == ["cy", "ar"] and fake_google.requests == []
    texts = [r["text_en"] for r in export_json(url, tmp_path)]
    assert texts[1:] == [f"{SECRET_TEXT.upper()} [PHONE]"] * 2  # anonymised again


def test_translate_pending_on_an_empty_database(tmp_path, fake_google, capsys):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["translate-pending", "--database-url", url]) == 0
    assert capsys.readouterr().out == "translated 0, failed 0, still pending 0\n"
    assert fake_google.requests == []


def test_translate_pending_help_explains_the_exit_status(capsys):
    assert main(["translate-pending", "--help"]) == 0
    out = capsys.readouterr().out
    assert "exit status" in out and "still pending" in out and "--limit" in out
