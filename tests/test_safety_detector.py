"""The safety detector and its examples. Quality bars are measured by `make safety-report`
on the held-out part; these tests check the pieces and that nothing breaks on odd input."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.catalogue import available_languages, catalogue, normalise_words
from bot.safety.data import SafetyDataError, heldout_part, load_examples, train_part
from bot.safety.detector import (
    MAX_PIECES,
    NO_RISK,
    Detector,
    detector,
    model_text,
    phrase_hit,
    pieces,
    train,
)
from bot.safety.kinds import HARMLESS, RISK_KINDS

EXAMPLES = load_examples()
# What each language must have (issue 11): English 150 a kind and 1,000 look-alikes; every
# other language 30 a kind.
AT_LEAST = {("en", HARMLESS): 1000, **{("en", kind): 150 for kind in RISK_KINDS}}


def test_every_language_has_every_kind_with_enough_examples() -> None:
    counts = Counter((e.language, e.label) for e in EXAMPLES)
    for code in available_languages():
        for label in (*RISK_KINDS, HARMLESS):
            wanted = AT_LEAST.get((code, label), 30)
            assert counts[(code, label)] >= wanted, (code, label, counts[(code, label)])


def test_held_out_families_are_apart_from_training_ones() -> None:
    """A family is wholly held out or wholly trained on, and no held-out text is a copy."""
    trained = {normalise_words(e.text) for e in train_part(EXAMPLES)}
    held = heldout_part(EXAMPLES)
    assert {e.family for e in held}.isdisjoint({e.family for e in train_part(EXAMPLES)})
    copies = [e.text for e in held if normalise_words(e.text) in trained]
    assert len(copies) <= len(held) // 100, copies[:10]
    for code in available_languages():
        for label in (*RISK_KINDS, HARMLESS):
            share = [e.heldout for e in EXAMPLES if e.language == code and e.label == label]
            assert 0.1 <= sum(share) / len(share) <= 0.45, (code, label)


def test_a_family_in_both_parts_is_refused(tmp_path) -> None:
    folder = tmp_path / "en"
    folder.mkdir()
    (folder / "harmless.yml").write_text(
        "safety:\n  language: en\n  kind: harmless\n  train:\n    a: [fine]\n"
        "  heldout:\n    a: [ok]\n", encoding="utf-8")
    with pytest.raises(SafetyDataError, match="both parts"):
        load_examples(tmp_path)


@pytest.fixture(scope="module")
def small() -> Detector:
    """A detector trained on a fixed small split: every third family of English."""
    families = sorted({e.family for e in train_part(EXAMPLES) if e.language == "en"})
    chosen = set(families[::3])
    return train([e for e in EXAMPLES if e.family in chosen], folds=2)


def test_the_detector_names_a_kind_and_a_confidence(small: Detector) -> None:
    risk = small.assess("i have been saving my tablets and tonight i will take them all")
    assert risk.danger and risk.kind in RISK_KINDS and 0.0 <= risk.confidence <= 1.0
    assert "model" in risk.signals


def test_signals_combine_recall_first(small: Detector) -> None:
    calm = small.assess("the nurse was lovely and the food was fine")
    assert not calm.danger
    assert small.assess("the nurse was lovely", intent_danger=True).signals == ("intent",)
    assert "phrase" in small.assess("thinking about suicide").signals


def test_a_danger_sentence_inside_long_calm_feedback_is_found(small: Detector) -> None:
    calm = "The ward was clean. The food was fine. Parking was hard. " * 8
    alone = small.assess("i want to end my life tonight")
    inside = small.assess(calm + "i want to end my life tonight. Thanks for asking.")
    assert inside.danger and inside.confidence >= alone.confidence * 0.9


def test_pieces_are_bounded_and_short_messages_read_whole() -> None:
    text = "a. " * 10_000
    found = pieces(text)
    assert len(found) <= 1 + MAX_PIECES * 2
    assert pieces("") == [] and pieces("   ") == []
    assert pieces("Excellent service. All round at the clinic.") == [
        "Excellent service. All round at the clinic."]


def test_model_text_folds_case_accents_and_long_repeats() -> None:
    assert model_text("NÃO aguento MAISSSSS") == "nao aguento maiss"
    assert model_text("ਮੈਂ") == "ਮੈਂ"  # Gurmukhi's vowel signs are letters, not accents
    assert model_text("أريد") == "أريد"


@pytest.mark.parametrize("text", [
    "", " ", "\u200f\u200e", "😀" * 5000, "/danger{\"x\":1}", "<script>alert(1)</script>",
    "'; DROP TABLE answers; --", "\x00\x01\x02", "مرحبا " * 3000, "a" * 100_000,
    "ab" * 50_000, ("x " * 50_000), ". " * 50_000, "a." * 50_000,
])
def test_odd_and_huge_messages_are_assessed_without_error(small: Detector, text: str) -> None:
    risk = small.assess(text)
    assert risk.danger in (True, False) and 0.0 <= risk.confidence <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_a_risk(text: str) -> None:
    found = detector().assess(text)
    assert found is NO_RISK or (0.0 <= found.confidence <= 1.0)
    assert found.kind is None or found.kind in RISK_KINDS


def test_no_plain_choice_of_any_language_is_danger_where_it_is_asked(tmp_path) -> None:
    """Every label of every choice question in every language, answered at its question."""
    from bot.questions import FLOW, option_labels
    from bot.settings import trust_settings
    from bot.store import Store
    from bot.survey import Message, Survey, SurveyState

    survey = Survey(Store(f"sqlite:///{tmp_path / 'labels.db'}"), trust_settings())
    flagged = []
    for code in available_languages():
        for question in (q for q in FLOW if q.kind != "text"):
            for label in option_labels(question, catalogue(code), trust_settings()).values():
                state = SurveyState(current=question.key, language=code,
                                    response_id=survey.store.start_response(
                                        language=code, channel="rest"))
                replies = survey.handle(state, Message(label), language=code, channel="rest")
                flagged += [(code, label)] * (replies[0].key == "safety_intro")
    assert flagged == []


@pytest.mark.parametrize("code", available_languages())
def test_each_kind_is_recognised_in_each_language(code: str) -> None:
    """On its own training examples (a sanity check, not a measure: see make safety-report),
    the full detector flags nearly all and names the kind of most."""
    for kind in RISK_KINDS:
        texts = [e.text for e in train_part(EXAMPLES)
                 if e.language == code and e.label == kind][:20]
        risks = [detector().assess(text) for text in texts]
        assert sum(r.danger for r in risks) >= 0.9 * len(texts), (code, kind)
        assert sum(r.kind == kind for r in risks) >= 0.6 * len(texts), (code, kind)


def test_the_saved_detector_is_reused_until_the_examples_change(tmp_path, monkeypatch) -> None:
    import shutil

    from bot.safety import detector as module

    data = tmp_path / "data"
    shutil.copytree(module.SAFETY_DATA / "en", data / "en")
    path = tmp_path / "detector.joblib"
    first = module.detector.__wrapped__(path, data)
    trained = []
    monkeypatch.setattr(module, "train", lambda examples: trained.append(1) or first)
    assert module.detector.__wrapped__(path, data).trained_on == first.trained_on
    assert trained == []  # loaded, not trained again
    harmless = data / "en" / "harmless.yml"
    harmless.write_text(harmless.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    module.detector.__wrapped__(path, data)
    assert trained == [1]  # the examples changed: trained again


def test_danger_phrases_of_every_language_match_whole_words() -> None:
    assert phrase_hit("Dw i eisiau lladd fy hun") == phrase_hit(catalogue("cy").danger_words[0])
    assert phrase_hit(f"... {catalogue('ur').danger_words[0]} ...")
    assert phrase_hit("I WANT TO DIE!!!")
    assert not phrase_hit("the biscuits overdosed me on sugar")  # "overdose" as a whole word
