"""The patient-voice command line against a temporary SQLite database."""

from __future__ import annotations

import csv
import json
from datetime import date

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool
from store_fixtures import Clock

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
