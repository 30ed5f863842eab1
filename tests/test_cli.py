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
from bot.export import COLUMNS
from bot.store import Store

SECRET_TEXT = "The ward was cold at night"


@pytest.fixture
def database(tmp_path):
    """Three responses on three days, for two services; returns (url, ids)."""
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


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["export"],
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
