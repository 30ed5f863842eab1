"""bot.themes and its store tables and commands, on a small fixed split of the shared QDC data.

Quality bars belong to ``scripts/themes_report.py`` (cross-validated on all the data); here
the model is trained on about 600 comments and checked for working, not for being good.
The data is ``../shared/data/qdc_v6_train.csv`` beside the repository (``QDC_DATA`` overrides).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool
from store_fixtures import (  # noqa: F401  (fixtures)
    clock_fixture,
    postgres_url_fixture,
    store_fixture,
    store_url_fixture,
)

from bot import themes
from bot.anonymiser import Anonymised
from bot.cli import main
from bot.store import CORRECTED, Store, UnthemedAnswer, alembic_config, migrate

ROOT = Path(__file__).resolve().parents[1]
FOOD = "Food & drink provision & facilities"
STAFF = "Staff manner & personal attributes"
KIND_WORDS = "The staff on the ward were lovely and caring"


def shared_data() -> Path:
    path = themes.data_path()
    if not path.is_file():
        message = f"the shared QDC data is missing: {path} (set QDC_DATA)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def data() -> tuple[list[str], list[dict], list[dict]]:
    """(CSV header, ~600 training rows, ~200 test rows): whole respondents, fixed by a hash."""
    path = shared_data()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = list(csv.DictReader(handle).fieldnames)
    rows = themes.read_csv(path)
    by_respondent: dict[str, list[dict]] = {}
    for row in rows:
        by_respondent.setdefault(row[themes.RESPONDENT_ID], []).append(row)
    order = sorted(by_respondent, key=lambda key: hashlib.sha256(key.encode()).hexdigest())
    train_rows: list[dict] = []
    test_rows: list[dict] = []
    counts = [0, 0]  # comments (rows with an answer) in each
    for respondent in order:
        side = 0 if counts[0] < 600 else 1 if counts[1] < 200 else None
        if side is None:
            break
        (train_rows, test_rows)[side].extend(by_respondent[respondent])
        counts[side] += len(themes.examples(by_respondent[respondent])[0])
    return header, train_rows, test_rows


@pytest.fixture(scope="module")
def model(data) -> themes.ThemeModel:
    return themes.train(data[1])


def write_rows(path: Path, header: list[str], rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def anon(value: str) -> Anonymised:
    return Anonymised(text=value, tags=())


# --- rows and question kinds -----------------------------------------------------------------


def test_read_csv_rows_categories_and_skipped_non_answers(data):
    header, train_rows, _ = data
    found, categories = themes.examples(train_rows)
    assert categories[0] == "Not assigned" and themes.NOT_LABELLABLE not in categories
    assert categories == [c for c in header[header.index("Comment sentiment") + 1 :]
                          if c != themes.NOT_LABELLABLE]
    non_answers = [r for r in train_rows if r["FFT answer"].strip() in ("", "Did not answer")]
    assert non_answers and len(found) == len(train_rows) - len(non_answers)
    assert all(e.text and e.kind in themes.KINDS for e in found)
    assert all(e.sentiment in (None, 1, 2, 3, 4, 5) for e in found)


def test_read_csv_refuses_a_file_without_the_columns(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("text,label\nhello,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="FFT answer"):
        themes.read_csv(path)
    path.write_text("FFT answer,Comment sentiment\nhello,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no category columns"):
        themes.read_csv(path)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("rating_reason", "nonspecific"),
        ("improve", "could_improve"),
        ("barriers_more", "could_improve"),
        ("FFT Why?", "nonspecific"),
        ("What was good?", "what_good"),
        ("How could we improve?", "could_improve"),
        ("What could we do better?", "could_improve"),
        ("Please describe any things about the 111 service that \nyou were particularly "
         "satisfied and/or dissatisfied with", "nonspecific"),
        ("What did we do well?", "what_good"),
        ("Is there anything we should change?", "could_improve"),
        ("service_other", "nonspecific"),
        ("", "nonspecific"),
        (None, "nonspecific"),
    ],
)
def test_question_kinds(question, kind):
    assert themes.question_kind(question) == kind


# --- training, evaluation, files ---------------------------------------------------------------


def test_train_and_evaluate_on_a_small_split(model, data):
    _, _, test_rows = data
    scores = themes.evaluate(model, test_rows)
    found, _ = themes.examples(test_rows)
    assert scores.comments == len(found) >= 200
    assert 0 <= scores.micro_f1 <= 1 and 0 <= scores.sentiment_macro_f1 <= 1
    assert scores.macro_f1 is None or 0 <= scores.macro_f1 <= 1
    assert set(scores.per_category) >= set(model.labels)
    # Better than always answering the commonest category and the commonest sentiment.
    commonest = max(model.labels, key=lambda c: scores.per_category[c].support)
    baseline = themes.score(
        [e.themes for e in found], [[commonest]] * len(found),
        [e.sentiment for e in found], [1] * len(found),
    )
    assert scores.micro_f1 > baseline.micro_f1
    assert scores.sentiment_macro_f1 > baseline.sentiment_macro_f1


def test_predictions_are_known_categories_and_levels(model, data):
    found, _ = themes.examples(data[2])
    predictions = model.predict([e.text for e in found], [e.kind for e in found])
    assert len(predictions) == len(found)
    for prediction in predictions:
        assert prediction.themes and set(prediction.themes) <= set(model.labels)
        assert prediction.sentiment in (1, 2, 3, 4, 5)
    assert model.version and model.trained_on["comments"] >= 600


def test_save_and_load_round_trip(model, tmp_path, monkeypatch):
    path = themes.save(model, tmp_path / "models" / "themes.joblib")
    assert path.is_file() and not list(path.parent.glob("*.partial"))
    texts = [KIND_WORDS, "The ambulance was two hours late", "Nothing"]
    questions = ["rating_reason", "improve", "What was good?"]
    loaded = themes.load(path)
    assert loaded.predict(texts, questions) == model.predict(texts, questions)
    assert loaded.version == model.version
    assert themes.load(path) is loaded  # read once
    monkeypatch.setenv("THEMES_MODEL", str(path))
    assert themes.model_path() == path and themes.load() is loaded
    os.utime(path, ns=(1, 1))  # a replaced file is read again
    assert themes.load(path) is not loaded


def test_default_model_path(monkeypatch):
    monkeypatch.delenv("THEMES_MODEL", raising=False)
    assert themes.model_path() == ROOT / "models" / "themes" / "themes.joblib"


def test_load_explains_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="patient-voice themes train"):
        themes.load(tmp_path / "none.joblib")
    joblib.dump({"something": "else"}, tmp_path / "other.joblib")
    with pytest.raises(ValueError, match="not a themes model"):
        themes.load(tmp_path / "other.joblib")
    joblib.dump({"format": themes.FILE_FORMAT, "sklearn": "0.1", "model": None},
                tmp_path / "old.joblib")
    with pytest.raises(ValueError, match="retrain"):
        themes.load(tmp_path / "old.joblib")


def test_train_needs_labels_and_sentiments(data):
    rows = [{k: v for k, v in row.items()} for row in data[1]]
    for row in rows:
        row["Comment sentiment"] = "2"
    with pytest.raises(ValueError, match="sentiment"):
        themes.train(rows)
    unlabelled = [{"FFT answer": "Fine", "Comment sentiment": "1"} for _ in range(10)]
    with pytest.raises(ValueError, match="category"):
        themes.train(unlabelled)


# --- the question is a feature -----------------------------------------------------------------


def test_the_question_changes_the_model_input(model):
    after_why = model.vectorise(["Nothing"], ["rating_reason"]).toarray()
    after_improve = model.vectorise(["Nothing"], ["improve"]).toarray()
    after_good = model.vectorise(["Nothing"], ["What was good?"]).toarray()
    assert (after_why != after_improve).any() and (after_improve != after_good).any()
    assert (model.vectorise(["Nothing"], ["improve"]).toarray() == after_improve).all()
    assert (model.vectorise(["Nothing"], ["barriers_more"]).toarray() == after_improve).all()


def test_nothing_after_what_was_good_is_not_nothing_after_improve(model):
    good, improve = model.predict(["Nothing", "Nothing"], ["What was good?", "improve"])
    assert good != improve
    assert good.sentiment > 3 > improve.sentiment  # a complaint, and praise


# --- bad input -------------------------------------------------------------------------------


def test_bad_input_is_themed_without_errors(model):
    texts = [
        "",
        "   \n\t",
        "😀👍🏽🙏",
        "كان الموظفون لطفاء جدا",
        "ਸਟਾਫ ਬਹੁਤ ਚੰਗਾ ਸੀ",
        "x" * 10_000,
        "very long " * 2_000,
        "a\x00b\x1fc\u202e",
        "<script>alert(1)</script>' OR 1=1 --",
    ]
    questions = ["rating_reason", "improve", "barriers_more", "service_other", "nonsense",
                 "", "improve", "rating_reason", "improve"]
    predictions = model.predict(texts, questions)
    assert len(predictions) == len(texts)
    assert predictions[0] == predictions[1] == themes.Prediction(["Not assigned"], 3)
    for prediction in predictions:
        assert set(prediction.themes) <= set(model.categories)
        assert prediction.sentiment in (1, 2, 3, 4, 5)
    assert model.predict([], []) == []
    with pytest.raises(ValueError):
        model.predict(["one", "two"], ["improve"])


def test_no_comment_text_in_the_logs(data, caplog):
    marker = "Zebrafinch marmalade quandary"
    rows = data[1][:300] + [
        themes.make_row(marker, "improve", [STAFF], 2, comment_id="marker")
    ]
    with caplog.at_level(logging.DEBUG):
        trained = themes.train(rows)
        trained.predict([marker], ["improve"])
    assert marker.lower() not in caplog.text.lower()


def test_core_modules_import_neither_rasa_nor_scikit_learn():
    code = (
        "import sys, bot.themes, bot.store, bot.cli\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('rasa', 'rasa_sdk', 'sklearn')]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- the store: themes and corrections (SQLite and PostgreSQL) -----------------------------------


def answered(store: Store, key: str, value: str, language: str = "en") -> tuple[str, int]:
    """A response with one free-text answer; returns (response id, answer id)."""
    response_id = store.start_response(language=language, channel="web")
    store.save_answer(response_id, key, text=anon(value))
    with store.engine.connect() as connection:
        answer_id = connection.execute(
            text("SELECT id FROM answers WHERE response_id = :r"), {"r": response_id}
        ).scalar_one()
    return response_id, answer_id


def test_save_themes_and_the_unthemed_queue(store, clock):
    keys = themes.QUESTION_KINDS
    _, english = answered(store, "rating_reason", "Kind staff")
    _, polish = answered(store, "improve", "Dłuższe godziny", language="pl")
    _, other = answered(store, "service_other", "Dentist")
    choice_only = store.start_response(language="en", channel="web")
    store.save_answer(choice_only, "rating", choices=["good"])
    assert store.unthemed_answers(10, question_keys=keys) == [
        UnthemedAnswer(english, "rating_reason", "Kind staff")
    ]
    assert [a.answer_id for a in store.unthemed_answers(10)] == [english, other]
    assert [a.answer_id for a in store.unthemed_answers(1)] == [english]
    assert store.save_themes(english, [STAFF, STAFF], 1, "v1", source_text="Kind staff")
    found = store.themes_for(english)
    assert (found.themes, found.sentiment, found.model_version) == ([STAFF], 1, "v1")
    assert found.themed_on == clock.day
    assert store.unthemed_answers(10, question_keys=keys) == []
    # the translation arrives: the answer is offered with its English text
    assert store.set_translation(polish, anon("Longer hours"))
    assert store.unthemed_answers(10, question_keys=keys) == [
        UnthemedAnswer(polish, "improve", "Longer hours")
    ]
    assert store.unthemed_answers(10, question_keys=keys, after=polish) == []
    assert store.themes_for(polish) is None


def test_a_replaced_answer_is_themed_again(store):
    response_id, answer_id = answered(store, "improve", "More parking")
    assert store.save_themes(answer_id, ["Parking"], 4, "v1")
    store.save_answer(response_id, "improve", text=anon("Nothing"))
    [again] = store.unthemed_answers(5)
    assert (again.answer_id, again.text) == (answer_id, "Nothing")
    assert not store.save_themes(answer_id, ["Parking"], 4, "v1", source_text="More parking")
    assert store.themes_for(answer_id).themes == ["Parking"]
    assert store.save_themes(answer_id, ["Positive experience & gratitude"], 1, "v2",
                             source_text="Nothing")
    assert store.unthemed_answers(5) == []


def test_save_themes_checks_its_input(store):
    _, answer_id = answered(store, "improve", "More parking")
    for sentiment in (0, 6, True, "3", 2.5):
        with pytest.raises(ValueError):
            store.save_themes(answer_id, ["Parking"], sentiment, "v1")
    with pytest.raises(TypeError):
        store.save_themes(answer_id, "Parking", 3, "v1")
    with pytest.raises(ValueError):
        store.save_themes(answer_id, [""], 3, "v1")
    with pytest.raises(ValueError):
        store.save_themes(answer_id, ["Parking"], 3, "")
    with pytest.raises(ValueError):
        store.unthemed_answers(0)
    assert not store.save_themes(answer_id + 1000, ["Parking"], 3, "v1")
    with pytest.raises(Exception) as caught:  # the database refuses a bad sentiment too
        with store.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO answer_themes (answer_id, themes, sentiment, model_version, "
                    "text_digest, themed_on) VALUES (:a, '[]', 9, 'v', 'd', '2024-01-01')"
                ),
                {"a": answer_id},
            )
    assert "constraint" in str(caught.value).lower()


def test_correct_themes_keeps_the_correction_for_training(store, clock):
    _, answer_id = answered(store, "improve", "The soup was cold")
    store.save_themes(answer_id, [STAFF], 2, "v1")
    assert store.correct_themes(answer_id, [FOOD], 4)
    found = store.themes_for(answer_id)
    assert (found.themes, found.sentiment, found.model_version) == ([FOOD], 4, CORRECTED)
    [row] = store.corrections()
    assert row["FFT answer"] == "The soup was cold" and row["FFT question"] == "improve"
    assert row["Comment sentiment"] == "4" and row[FOOD] == "1"
    assert themes.category_columns(row) == [FOOD]
    [example] = themes.examples([row])[0]
    assert (example.kind, example.themes, example.sentiment) == ("could_improve", {FOOD}, 4)
    assert example.weight == themes.CORRECTION_WEIGHT
    # a later correction replaces the earlier one; themes only keeps the sentiment
    assert store.correct_themes(answer_id, [FOOD, "Environment & Facilities"])
    [row] = store.corrections()
    assert row["Comment sentiment"] == "" and row["Environment & Facilities"] == "1"
    assert store.themes_for(answer_id).sentiment == 4
    assert store.unthemed_answers(5) == []


def test_correct_themes_needs_an_answer_with_english_text(store):
    _, polish = answered(store, "improve", "Zimna zupa", language="pl")
    assert not store.correct_themes(polish, [FOOD], 4)  # waiting for its translation
    assert not store.correct_themes(polish + 1000, [FOOD], 4)
    with pytest.raises(ValueError):
        store.correct_themes(polish, [FOOD], 7)
    with pytest.raises(TypeError):
        store.correct_themes(polish, FOOD, 4)
    assert store.corrections() == []


def test_withdrawal_deletes_themes_and_corrections(store):
    response_id, answer_id = answered(store, "improve", "The soup was cold")
    store.save_themes(answer_id, [STAFF], 2, "v1")
    store.correct_themes(answer_id, [FOOD], 4)
    code = store.complete_response(response_id)
    assert store.withdraw(code)
    assert store.themes_for(answer_id) is None and store.corrections() == []
    with store.engine.connect() as connection:
        for table in ("answer_themes", "theme_corrections"):
            assert connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one() == 0


def test_deleting_an_answer_deletes_its_themes_and_correction(store):
    response_id, answer_id = answered(store, "rating_reason", "Kind staff")
    store.correct_themes(answer_id, [STAFF], 1)
    store.delete_answer(response_id, "rating_reason")
    assert store.themes_for(answer_id) is None and store.corrections() == []


def test_migration_0003_up_and_down(store_url):
    migrate(store_url, "0002")
    engine = create_engine(store_url, future=True, poolclass=NullPool)
    try:
        assert not {"answer_themes", "theme_corrections"} & set(inspect(engine).get_table_names())
        migrate(store_url)
        assert {"answer_themes", "theme_corrections"} <= set(inspect(engine).get_table_names())
        for table in ("answer_themes", "theme_corrections"):
            [foreign_key] = inspect(engine).get_foreign_keys(table)
            assert foreign_key["referred_table"] == "answers"
            assert foreign_key["options"].get("ondelete") == "CASCADE"
        command.downgrade(alembic_config(store_url), "0002")
        assert not {"answer_themes", "theme_corrections"} & set(inspect(engine).get_table_names())
        assert {"answers", "responses"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# --- retraining with corrections ---------------------------------------------------------------


def test_retraining_with_corrections_changes_the_prediction(model, data, tmp_path):
    before = model.predict([KIND_WORDS], ["rating_reason"])[0]
    assert FOOD not in before.themes and before.sentiment <= 2
    store = Store(f"sqlite:///{tmp_path / 'corrections.db'}")
    try:
        _, answer_id = answered(store, "rating_reason", KIND_WORDS)
        assert store.correct_themes(answer_id, [FOOD], 5)
        corrections = store.corrections()
    finally:
        store.close()
    retrained = themes.train(data[1] + corrections)
    after = retrained.predict([KIND_WORDS], ["rating_reason"])[0]
    assert FOOD in after.themes and after.sentiment == 5
    assert retrained.version != model.version


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli_files(data, tmp_path):
    header, train_rows, test_rows = data
    return (
        write_rows(tmp_path / "train.csv", header, train_rows[:400]),
        write_rows(tmp_path / "test.csv", header, test_rows),
        tmp_path / "model" / "themes.joblib",
        f"sqlite:///{tmp_path / 'var' / 'pv.db'}",
    )


def test_cli_train_evaluate_and_tag(cli_files, capsys):
    train_csv, test_csv, model_file, url = cli_files
    assert main(["themes", "train", "--data", str(train_csv), "--out", str(model_file),
                 "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "and 0 staff corrections" in out and str(model_file) in out and model_file.is_file()

    assert main(["themes", "evaluate", "--data", str(test_csv), "--model", str(model_file)]) == 0
    out = capsys.readouterr().out
    for label in ("themes micro F1", "themes macro F1", "sentiment macro F1"):
        assert re.search(rf"^{label} +(\d\.\d{{3}}|n/a)", out, re.MULTILINE), out

    store = Store(url)
    try:
        _, reason = answered(store, "rating_reason", KIND_WORDS)
        _, improve = answered(store, "improve", "Nothing")
        _, pending = answered(store, "improve", "Nic", language="pl")
        _, other = answered(store, "service_other", "Dentist")
    finally:
        store.close()
    assert main(["themes", "tag", "--model", str(model_file), "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "themed 2 answers" in out and "1 answers wait for an English translation" in out
    assert KIND_WORDS not in out and "Nothing" not in out
    store = Store(url)
    try:
        assert store.themes_for(reason).model_version == themes.load(model_file).version
        assert store.themes_for(improve).sentiment in (1, 2, 3, 4, 5)
        assert store.themes_for(pending) is None and store.themes_for(other) is None
        assert store.correct_themes(reason, [FOOD], 5)
    finally:
        store.close()
    assert main(["themes", "tag", "--model", str(model_file), "--database-url", url]) == 0
    assert "themed 0 answers" in capsys.readouterr().out

    assert main(["themes", "train", "--data", str(train_csv), "--out", str(model_file),
                 "--database-url", url]) == 0
    assert "and 1 staff corrections" in capsys.readouterr().out
    assert main(["themes", "train", "--data", str(train_csv), "--out", str(model_file),
                 "--database-url", url, "--without-corrections"]) == 0
    assert "and 0 staff corrections (--without-corrections)" in capsys.readouterr().out


def test_cli_tag_with_a_limit(cli_files, model, capsys):
    _, _, model_file, url = cli_files
    themes.save(model, model_file)
    store = Store(url)
    try:
        for number in range(3):
            answered(store, "improve", f"Comment {number}")
    finally:
        store.close()
    assert main(["themes", "tag", "--limit", "2", "--model", str(model_file),
                 "--database-url", url]) == 0
    assert "themed 2 answers" in capsys.readouterr().out
    assert main(["themes", "tag", "--model", str(model_file), "--database-url", url]) == 0
    assert "themed 1 answers" in capsys.readouterr().out


def test_cli_uses_themes_model_by_default(cli_files, monkeypatch, capsys):
    train_csv, test_csv, model_file, url = cli_files
    monkeypatch.setenv("THEMES_MODEL", str(model_file))
    assert main(["themes", "train", "--data", str(train_csv), "--database-url", url,
                 "--without-corrections"]) == 0
    assert model_file.is_file()
    assert main(["themes", "evaluate", "--data", str(test_csv)]) == 0
    assert "themes micro F1" in capsys.readouterr().out


def test_cli_train_without_data_uses_qdc_data(cli_files, tmp_path, monkeypatch, capsys):
    train_csv, _, _, url = cli_files
    monkeypatch.setenv(themes.DATA_ENV, str(tmp_path / "missing.csv"))
    assert main(["themes", "train", "--out", str(tmp_path / "m.joblib"),
                 "--database-url", url]) == 1
    assert "missing.csv" in capsys.readouterr().err
    # --if-missing (make run): no data is not an error, and an existing model is kept
    assert main(["themes", "train", "--if-missing", "--out", str(tmp_path / "m.joblib"),
                 "--database-url", url]) == 0
    assert "answers stay unthemed" in capsys.readouterr().out
    assert not (tmp_path / "m.joblib").exists()
    monkeypatch.setenv(themes.DATA_ENV, str(train_csv))
    made = tmp_path / "m.joblib"
    assert main(["themes", "train", "--if-missing", "--out", str(made),
                 "--database-url", url]) == 0
    assert made.is_file() and "trained on" in capsys.readouterr().out
    before = made.stat().st_mtime_ns
    assert main(["themes", "train", "--if-missing", "--out", str(made),
                 "--database-url", url]) == 0
    assert "already" in capsys.readouterr().out
    assert made.stat().st_mtime_ns == before


def test_cli_errors(cli_files, tmp_path, capsys):
    train_csv, _, model_file, url = cli_files
    assert main(["themes", "tag", "--model", str(tmp_path / "none.joblib"),
                 "--database-url", url]) == 1
    assert "patient-voice themes train" in capsys.readouterr().err
    assert main(["themes", "evaluate", "--data", str(tmp_path / "none.csv"),
                 "--model", str(model_file)]) == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("comment\nhello\n", encoding="utf-8")
    assert main(["themes", "train", "--data", str(bad), "--out", str(model_file),
                 "--database-url", url]) == 1
    assert "FFT answer" in capsys.readouterr().err
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("FFT answer,Comment sentiment,Not assigned\ncaf\xe9,1,1\n".encode("latin-1"))
    assert main(["themes", "train", "--data", str(latin1), "--out", str(model_file),
                 "--database-url", url]) == 1
    assert "not a UTF-8 CSV" in capsys.readouterr().err
    assert main(["themes"]) == 2
    assert main(["themes", "tag", "--limit", "0"]) == 2
    assert main(["themes", "train", "--data", str(train_csv), "--with-corrections",
                 "--without-corrections"]) == 2
