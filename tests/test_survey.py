"""The conversation state machine, turn by turn, with a real store and no Rasa model."""

from __future__ import annotations

import pytest

from bot.anonymiser import AnonymisationError, Anonymised
from bot.catalogue import available_languages
from bot.questions import FLOW, next_question
from bot.settings import trust_settings
from bot.store import Store
from bot.survey import Message, Survey, SurveyState, clean_text


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'survey.db'}")


@pytest.fixture
def survey(store: Store) -> Survey:
    return Survey(store, trust_settings())


class Visit:
    """A patient's visit driven straight through ``Survey.handle``."""

    def __init__(self, survey: Survey, channel: str = "rest") -> None:
        self.survey, self.channel = survey, channel
        self.state = SurveyState()

    def say(self, text: str, intent: str | None = None, confidence: float = 0.0,
            option: str | None = None) -> list[str]:
        replies = self.survey.handle(self.state, Message(text, intent, confidence, option),
                                     language="en", channel=self.channel)
        self.replies = replies
        return [reply.key for reply in replies]

    def answers(self) -> dict:
        return {a.question_key: a for a in self.survey.store.answers_for(self.state.response_id)}


def started(survey: Survey) -> Visit:
    visit = Visit(survey)
    assert visit.say("hi") == ["ask_language"]
    assert visit.say("1") == ["welcome"]
    assert visit.say("yes") == ["ask_respondent"]
    return visit


def at_welcome(survey: Survey) -> Visit:
    visit = Visit(survey)
    visit.say("hello")
    assert visit.say("English") == ["welcome"]
    return visit


def test_first_message_gets_the_language_menu_and_nothing_is_stored(survey: Survey) -> None:
    visit = Visit(survey)
    assert visit.say("hello") == ["ask_language"]
    assert visit.state.response_id is None


def test_saying_no_at_the_welcome_stores_nothing(survey: Survey) -> None:
    visit = at_welcome(survey)
    assert visit.say("2") == ["stopped_nothing_saved"]
    assert visit.state.finished and visit.state.response_id is None


@pytest.mark.parametrize("typed", ["1", "one", "I am the patient", "patient", "ME"])
def test_typed_answers_pick_a_choice(survey: Survey, typed: str) -> None:
    visit = started(survey)
    assert visit.say(typed) == ["ask_service"]
    assert visit.state.choices["respondent"] == ["patient"]


def test_button_payload_and_unknown_payload(survey: Survey) -> None:
    visit = started(survey)
    assert visit.say('/choose{"option":"nope"}', "choose", 1.0, "nope") == [
        "not_understood", "ask_respondent"]
    assert visit.say('/choose{"option":"helper"}', "choose", 1.0, "helper") == ["ask_service"]
    assert survey.store.get_response(visit.state.response_id).respondent == "helper"


def test_service_other_asks_for_free_text(survey: Survey) -> None:
    visit = started(survey)
    visit.say("1")
    assert visit.say("somewhere else") == ["ask_service_other"]
    assert visit.say("The podiatry clinic in town") == ["ask_rating"]
    assert visit.answers()["service_other"].text == "The podiatry clinic in town"


@pytest.mark.parametrize("typed, picked", [
    ("1 3", ["travel", "language"]), ("travel, cost", ["travel", "cost"]),
    ("2 and 4", ["cost", "appointment"]), ("nothing", ["nothing"]), ("12", ["nothing"]),
    ("1 12", ["travel"]),
])
def test_barriers_take_several_answers(survey: Survey, typed: str, picked: list[str]) -> None:
    visit = started(survey)
    for answer in ("1", "1", "very good", "skip"):
        visit.say(answer)
    assert visit.state.current == "barriers"
    visit.say(typed)
    assert visit.state.choices["barriers"] == picked
    expected = "ask_improve" if picked == ["nothing"] else "ask_barriers_more"
    assert visit.replies[-1].key == expected


@pytest.mark.parametrize("typed", ["13", "0", "1 2", "banana", "", "   "])
def test_a_single_choice_rejects_what_it_cannot_read(survey: Survey, typed: str) -> None:
    visit = started(survey)
    assert visit.say(typed) == ["not_understood", "ask_respondent"]


def test_free_text_is_anonymised_before_it_is_stored(survey: Survey) -> None:
    visit = started(survey)
    for answer in ("1", "1", "2"):
        visit.say(answer)
    visit.say("Dr Patel was great, my number is 07700 900123")
    stored = visit.answers()["rating_reason"].text
    assert "Patel" not in stored and "07700" not in stored and "[PHONE]" in stored


def test_anonymiser_failure_stores_nothing_and_carries_on(store: Store) -> None:
    def broken(text: str):
        raise AnonymisationError("broken")

    visit = started(Survey(store, trust_settings(), anonymiser=broken))
    for answer in ("1", "1", "2"):
        visit.say(answer)
    assert visit.say("some words") == ["answer_not_saved", "ask_barriers"]
    assert "rating_reason" not in visit.answers()


def test_a_long_free_text_command_is_an_answer(survey: Survey) -> None:
    visit = started(survey)
    for answer in ("1", "1", "2"):
        visit.say(answer)
    visit.say("please help the staff because they were overworked", "help", 0.95)
    assert "rating_reason" in visit.answers()


def test_skip_back_and_change(survey: Survey) -> None:
    visit = started(survey)
    assert visit.say("back") == ["back_at_start", "ask_respondent"]
    visit.say("1")
    visit.say("skip")
    assert visit.state.current == "rating"
    assert visit.say("back") == ["ask_service"]
    visit.say("2")
    assert survey.store.get_response(visit.state.response_id).service == "outpatients"


def test_changing_an_answer_drops_answers_that_no_longer_apply(survey: Survey) -> None:
    visit = started(survey)
    visit.say("1")
    visit.say("somewhere else")
    visit.say("The eye clinic")
    assert "service_other" in visit.answers()
    visit.say("back")
    visit.say("back")
    assert visit.state.current == "service"
    visit.say("1")
    assert "service_other" not in visit.answers()
    assert visit.state.current == "rating"


def test_welcome_cannot_be_skipped(survey: Survey) -> None:
    visit = at_welcome(survey)
    assert visit.say("skip") == ["cannot_skip", "welcome"]


def test_stop_keep_gives_a_receipt(survey: Survey) -> None:
    visit = started(survey)
    visit.say("1")
    assert visit.say("stop") == ["ask_confirm_stop"]
    assert visit.say("keep") == ["stopped_kept", "thanks", "signpost_end"]
    receipt = visit.replies[1].params["receipt"]
    assert survey.store.get_response(visit.state.response_id).status == "stopped"
    assert survey.store.withdraw(receipt)


def test_stop_delete_removes_everything(survey: Survey) -> None:
    visit = started(survey)
    visit.say("1")
    visit.say("stop")
    rid = visit.state.response_id
    assert visit.say("2") == ["stopped_deleted"]
    assert survey.store.get_response(rid) is None


def test_stop_before_starting_saves_nothing(survey: Survey) -> None:
    visit = at_welcome(survey)
    assert visit.say("stop") == ["stopped_nothing_saved"]


SAFETY_CHECK = ["safety_not_kept", "ask_safety_check"]


def test_danger_gets_the_help_of_its_kind_then_carry_on_or_stop(survey: Survey) -> None:
    visit = started(survey)
    assert visit.say("I feel suicidal") == [
        "safety_intro", "safety_suicide_self_harm", *SAFETY_CHECK]
    assert visit.say("1") == ["ask_respondent"]  # carry on: the same question again
    assert visit.say("1") == ["ask_service"]


def test_nlu_alone_shows_the_help_and_the_visit_goes_on(survey: Survey) -> None:
    visit = started(survey)
    assert visit.say("not sure", "danger", 0.9) == [
        "signpost_danger", "not_understood", "ask_respondent"]
    assert visit.say("1") == ["ask_service"]


def test_stop_after_danger_keeps_what_was_said(survey: Survey) -> None:
    visit = started(survey)
    visit.say("1")
    assert visit.say("i have saved up all my tablets to take tonight")[-1] == "ask_safety_check"
    assert visit.say("stop") == ["stopped_kept", "thanks", "signpost_end"]
    assert visit.answers()["respondent"].choices == ["patient"]


def test_danger_in_free_text_is_not_kept_as_an_answer(survey: Survey) -> None:
    visit = started(survey)
    for answer in ("1", "1", "5"):
        visit.say(answer)
    keys = visit.say("The staff ignored me and now I want to end my life")
    assert keys == ["safety_intro", "safety_suicide_self_harm", *SAFETY_CHECK]
    assert "rating_reason" not in visit.answers()
    assert visit.say("carry on") == ["ask_rating_reason"]
    assert visit.say("They did not listen to me") == ["ask_barriers"]


def test_someone_else_at_risk_is_kept_for_the_safeguarding_team(survey: Survey) -> None:
    from bot.safety.review import open_reviews

    visit = started(survey)
    visit.say("1")
    visit.say("1")  # the first service of the trust
    keys = visit.say("the carers on Rainbow Ward leave my mum in wet sheets all day, "
                     "ring me 07700 900123")
    assert keys == ["safety_intro", "safety_adult_at_risk", "safety_kept_for_review",
                    "ask_safety_check"]
    [kept] = open_reviews(survey.store)
    assert kept.kind == "adult_at_risk" and kept.service == trust_settings().service_keys()[0]
    assert "07700" not in kept.text and "wet sheets" in kept.text
    assert "Rainbow Ward" in kept.text  # a place the trust can act on stays


def test_a_complaint_written_as_free_text_is_kept(survey: Survey) -> None:
    visit = started(survey)
    for answer in ("1", "1", "5"):
        visit.say(answer)
    assert visit.say("Rude receptionist, I want to complain") == ["pals_info", "ask_barriers"]
    assert "rating_reason" in visit.answers()


def test_nlu_guesses_about_control_characters_are_ignored_but_danger_is_not(
    survey: Survey,
) -> None:
    visit = started(survey)
    # a terminal escape NLU took for "stop": not understood, the question is asked again
    assert visit.say("\x00\x01\x1b[31mred\x7f", "stop", 0.99) == [
        "not_understood", "ask_respondent"]
    assert visit.say("\x1b[0m\x07", "danger", 0.9)[0] == "signpost_danger"
    # a carriage return (as SMS phones send) is not garbling: the intent still counts
    assert visit.say("I would like to finish now\r\n", "stop", 0.99) == ["ask_confirm_stop"]


def test_on_a_free_text_question_only_exact_command_words_count(survey: Survey) -> None:
    visit = started(survey)
    for answer in ("1", "1", "5"):
        visit.say(answer)
    assert visit.say("stop cancelling my appointments", "stop", 0.99) == ["ask_barriers"]
    assert visit.answers()["rating_reason"].text == "stop cancelling my appointments"
    visit.say("back")
    assert visit.say("skip") == ["ask_barriers"]
    assert "barriers" not in visit.answers() and "rating_reason" not in visit.answers()


def test_odd_unicode_digits_do_not_crash(survey: Survey) -> None:
    visit = started(survey)
    assert visit.say("\u1369") == ["not_understood", "ask_respondent"]
    assert visit.say("\u0661") == ["ask_service"]  # Arabic-Indic one


def test_an_unknown_channel_is_stored_as_unknown(survey: Survey) -> None:
    visit = Visit(survey, channel="+447700900123")
    visit.say("hi")
    visit.say("1")
    visit.say("yes")
    assert survey.store.get_response(visit.state.response_id).channel == "unknown"


def test_a_failed_re_answer_does_not_leave_the_old_answer(store: Store) -> None:
    calls = {"n": 0}

    def flaky(text: str):
        calls["n"] += 1
        if calls["n"] > 1:
            raise AnonymisationError("down")
        return Anonymised(text, ())

    visit = started(Survey(store, trust_settings(), anonymiser=flaky))
    for answer in ("1", "1", "2", "first answer"):
        visit.say(answer)
    visit.say("back")
    assert visit.say("second answer") == ["answer_not_saved", "ask_barriers"]
    assert "rating_reason" not in visit.answers()


def test_danger_before_anything_else(survey: Survey) -> None:
    visit = Visit(survey)
    assert visit.say("i am going to kill myself tonight", "danger", 0.99)[-1] == (
        "ask_safety_check")
    assert visit.say("1") == ["ask_language"]  # carry on: the language menu, as at any start


def test_complaint_gets_pals_and_the_question_again(survey: Survey) -> None:
    visit = started(survey)
    assert visit.say("I want to make a complaint") == ["pals_info", "ask_respondent"]


def test_withdraw_anywhere(survey: Survey) -> None:
    first = started(survey)
    first.say("stop")
    receipt = None
    first.say("keep")
    receipt = first.replies[1].params["receipt"]
    other = Visit(survey)
    assert other.say(f"withdraw {receipt.replace('-', ' ').lower()}") == [
        "withdrawn", "ask_language"]
    assert other.say(f"withdraw {receipt}") == ["withdraw_not_found", "ask_language"]
    assert other.say("withdraw") == ["withdraw_how", "ask_language"]


def test_start_again_clears_an_unfinished_response(survey: Survey) -> None:
    visit = started(survey)
    visit.say("1")
    rid = visit.state.response_id
    assert visit.say("start again") == ["started_again", "welcome"]
    assert survey.store.get_response(rid) is None
    assert visit.state.response_id is None


def test_a_finished_visit_can_start_again_without_losing_the_first(survey: Survey) -> None:
    visit = started(survey)
    for _ in range(25):
        if visit.state.finished:
            break
        visit.say("skip")
    rid = visit.state.response_id
    assert survey.store.get_response(rid).status == "complete"
    assert visit.say("hello") == ["finished"]
    assert visit.say("start again") == ["welcome"]
    assert survey.store.get_response(rid).status == "complete"


def test_involvement_yes_gives_the_team_contact(survey: Survey) -> None:
    visit = started(survey)
    while visit.state.current != "about_you":
        visit.say("skip")
    visit.say("no")
    assert visit.state.current == "involvement"
    assert visit.say("yes") == ["involvement_contact", "thanks", "signpost_end"]


def test_about_you_questions_only_after_permission(survey: Survey) -> None:
    asked = {q.key for q in FLOW if q.applies({"about_you": ["no"]})}
    assert "age_band" not in asked and "religion" not in asked
    assert next_question("about_you", {"about_you": ["yes"]}).key == "age_band"


def test_state_from_a_tampered_slot_starts_fresh() -> None:
    assert SurveyState.from_dict({"current": "drop table"}) == SurveyState()
    assert SurveyState.from_dict({"response_id": "../etc"}) == SurveyState()
    assert SurveyState.from_dict("junk") == SurveyState()
    good = SurveyState(current="rating", history=["respondent"], response_id="a" * 32)
    assert SurveyState.from_dict(good.to_dict()) == good


def test_clean_text_removes_control_characters_and_caps_length() -> None:
    assert clean_text("a\x00b\x1bc") == "a b c"
    assert len(clean_text("x" * 50_000)) == 20_000
    assert clean_text(None) == ""


def test_free_text_is_anonymised_whole_then_cut_to_5000(survey: Survey) -> None:
    visit = started(survey)
    for answer in ("1", "1", "2"):
        visit.say(answer)
    visit.say("x " * 2499 + "07700 900123 and more")
    stored = visit.answers()["rating_reason"].text
    assert len(stored) == 5000 and "07700" not in stored and "0770" not in stored


def test_a_plain_choice_is_an_answer_even_if_nlu_thinks_it_is_danger(survey: Survey) -> None:
    visit = started(survey)
    while visit.state.current != "about_you":
        visit.say("skip")
    visit.say("yes")
    while visit.state.current != "housing":
        visit.say("skip")
    assert visit.say("No settled home", "danger", 0.95) == ["ask_involvement"]
    assert visit.state.choices["housing"] == ["housing_none"]


def test_skipping_a_changed_service_clears_it(survey: Survey) -> None:
    visit = started(survey)
    visit.say("1")
    visit.say("2")
    visit.say("back")
    visit.say("skip")
    assert survey.store.get_response(visit.state.response_id).service is None


# -- languages -----------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["Cymraeg", "welsh", "cy", "CY"])
def test_the_language_menu_takes_names_and_codes(survey: Survey, typed: str) -> None:
    visit = Visit(survey)
    visit.say("hello")
    assert visit.say(typed) == ["welcome"]
    assert visit.state.language == "cy" and visit.replies[0].language == "cy"


def test_writing_in_another_language_first_gets_an_offer_in_it(survey: Survey) -> None:
    visit = Visit(survey)
    assert visit.say("Roedd y nyrsys yn garedig iawn gyda fi") == ["offer_language"]
    offer = visit.replies[0]
    assert offer.language == "cy" and offer.params == {"language_name": "Cymraeg"}
    assert visit.say("1") == ["welcome"]
    assert visit.state.language == "cy"


def test_saying_no_to_the_offer_at_the_start_shows_every_language(survey: Survey) -> None:
    visit = Visit(survey)
    visit.say("Pielęgniarki były bardzo miłe dla mnie")
    assert visit.say("2") == ["ask_language"]
    assert visit.state.language == "en"


def test_changing_language_midway_keeps_the_answers(survey: Survey) -> None:
    visit = started(survey)
    visit.say("1")
    assert visit.say("change language") == ["ask_language"]
    assert visit.say("Polski") == ["language_changed", "ask_service"]
    assert [r.language for r in visit.replies] == ["pl", "pl"]
    assert survey.store.get_response(visit.state.response_id).language == "pl"
    assert "respondent" in visit.answers()
    assert visit.say("language") == ["ask_language"]
    assert visit.say("back") == ["ask_service"]  # nothing changed


def test_free_text_in_another_language_is_stored_with_its_code(survey: Survey) -> None:
    visit = started(survey)
    for answer in ("1", "1", "2"):
        visit.say(answer)
    said = "Pielęgniarki były bardzo miłe, ale czekałam długo na wizytę"
    assert visit.say(said) == ["offer_language"]
    answer = visit.answers()["rating_reason"]
    assert answer.language == "pl" and answer.translation_state == "pending"
    assert visit.say("2") == ["ask_barriers"]  # no: carry on in English
    visit.say("skip")
    assert visit.say(said) == ["ask_about_you"]  # offered once only


def test_danger_in_another_language_is_signposted_in_that_language(survey: Survey) -> None:
    visit = started(survey)
    replies = survey.handle(visit.state, Message("Rwy'n meddwl am hunanladdiad bob dydd nawr"),
                            language="en", channel="rest")
    assert [r.key for r in replies[:2]] == ["safety_intro", "safety_suicide_self_harm"]
    assert {r.language for r in replies[:3]} == {"cy"}
    assert replies[-1].key == "ask_safety_check" and replies[-1].language == "en"


def test_contact_details_are_asked_only_with_a_key_and_kept_apart(
    survey: Survey, monkeypatch
) -> None:
    from bot.contacts import list_contacts, new_key

    key = new_key()
    monkeypatch.setenv("CONTACT_KEY", key)
    visit = started(survey)
    while visit.state.current != "about_you":
        visit.say("skip")
    visit.say("no")
    assert visit.say("yes") == ["involvement_contact", "ask_contact_details"]
    assert visit.say("jo@example.com or 07700 900123") == [
        "contact_saved", "thanks", "signpost_end"]
    assert "contact_details" not in visit.answers()
    assert [c.details for c in list_contacts(survey.store, key=key)] == [
        "jo@example.com or 07700 900123"]
    monkeypatch.delenv("CONTACT_KEY")
    other = started(survey)
    while other.state.current != "involvement":
        other.say("skip")
    assert other.say("yes") == ["involvement_contact", "thanks", "signpost_end"]


def test_the_skip_button_works_on_a_free_text_question(survey: Survey) -> None:
    visit = started(survey)
    for answer in ("1", "1", "5"):
        visit.say(answer)
    assert visit.say("/skip", "skip", 1.0) == ["ask_barriers"]
    assert "rating_reason" not in visit.answers()


def test_free_text_flagged_by_nlu_alone_is_signposted_and_kept(survey: Survey) -> None:
    visit = started(survey)
    for answer in ("1", "1", "5"):
        visit.say(answer)
    assert visit.say("More buses please", "danger", 0.97) == ["signpost_danger", "ask_barriers"]
    assert visit.answers()["rating_reason"].text == "More buses please"


def test_contact_details_go_when_the_visit_is_deleted(survey: Survey, monkeypatch) -> None:
    """Contact details are the last answer, so this is the rare path of a visit that is
    stopped and deleted while they are kept (e.g. a future question after them)."""
    from bot.contacts import list_contacts, new_key

    key = new_key()
    monkeypatch.setenv("CONTACT_KEY", key)
    visit = started(survey)
    visit.say("1")
    while visit.state.current != "involvement":
        visit.say("skip")
    visit.say("yes")
    visit.state.current = "contact_details"
    visit.say("jo@example.com")
    assert [c.details for c in list_contacts(survey.store, key=key)] == ["jo@example.com"]
    visit.state.finished, visit.state.current = False, "respondent"
    visit.say("stop")
    assert visit.say("delete") == ["stopped_deleted"]
    assert list_contacts(survey.store, key=key) == []


def test_a_visit_in_a_language_added_as_one_file(survey: Survey, tmp_path) -> None:
    """A new languages/xx.yml is in the menu, chosen by number, noticed, and its own
    command word works: no code names it (tests/test_catalogue.py makes the file)."""
    from tests.test_catalogue import EXTRA_WORDS, extra_language

    with extra_language(tmp_path / "languages"):
        visit = Visit(survey)
        assert visit.say("hello") == ["ask_language"]
        assert visit.say(str(len(available_languages()))) == ["welcome"]
        assert visit.state.language == "xx" and visit.replies[0].language == "xx"
        assert visit.say("yes") == ["ask_respondent"]
        visit.say("1")
        assert visit.say(EXTRA_WORDS["change_language"]) == ["ask_language"]
        assert visit.say("English") == ["language_changed", "ask_service"]
        assert visit.state.language == "en" and "respondent" in visit.answers()
        # Writing in the new language's script gets the offer to carry on in it.
        assert visit.say("डॉक्टर बहुत अच्छे थे लेकिन इंतजार लंबा था") == ["offer_language"]
        assert visit.replies[0].language == "xx"
        assert visit.say("1") == ["language_changed", "ask_service"]
        assert visit.state.language == "xx"


def about_you(survey: Survey, respondent: str) -> Visit:
    """A visit that reaches "about you" answered by the patient ("1") or a helper ("2")."""
    visit = started(survey)
    visit.say(respondent)
    while visit.state.current != "about_you":
        visit.say("skip")
    return visit


def test_under_16s_and_helpers_are_not_asked_orientation_or_gender(survey: Survey) -> None:
    young = about_you(survey, "1")
    young.say("yes")
    assert young.say("Under 16") == ["ask_ethnic_group"]
    young.say("skip")
    assert young.say("skip") == ["ask_long_term_condition"]  # after religion: no SO or GI
    adult = about_you(survey, "1")
    adult.say("yes")
    adult.say("16 to 24")
    adult.say("skip")
    assert adult.say("skip") == ["ask_sexual_orientation"]
    helper = about_you(survey, "2")
    helper.say("yes")
    helper.say("25 to 34")
    helper.say("skip")
    assert helper.say("skip") == ["ask_long_term_condition_helper"]


def test_a_helper_is_asked_about_the_person_they_help(survey: Survey) -> None:
    helper = about_you(survey, "2")
    assert helper.state.choices["respondent"] == ["helper"]
    assert helper.say("yes") == ["ask_age_band_helper"]
    assert helper.say("2") == ["ask_ethnic_group_helper"]
    assert helper.say("1") == ["ask_ethnic_white_helper"]
    helper.say("1")
    assert helper.answers()["age_band"].choices == ["age_16_24"]
    record = survey.store.get_response(helper.state.response_id)
    assert record.respondent == "helper"  # whose answers they are


def test_an_emoji_cut_in_half_is_still_read_for_danger(survey: Survey) -> None:
    visit = started(survey)
    assert visit.say("I want to kill myself \ud83d")[0] == "safety_intro"


def test_when_the_detector_fails_phrases_still_bring_help(store: Store) -> None:
    def broken(text: str, **_: object):
        raise RuntimeError("model file unreadable")

    visit = started(Survey(store, trust_settings(), assess=broken))
    assert visit.say("I feel suicidal")[:2] == ["safety_intro", "signpost_danger"]
    assert visit.say("1") == ["ask_respondent"]
    assert visit.say("1") == ["ask_service"]  # ordinary answers still work


def test_another_stop_word_at_the_safety_question_keeps_the_place(survey: Survey) -> None:
    visit = started(survey)
    visit.say("1")
    visit.say("1")
    assert visit.say("i have saved up all my tablets to take tonight")[-1] == "ask_safety_check"
    rid = visit.state.response_id
    assert visit.say("quit") == ["ask_confirm_stop"]
    assert visit.say("carry on") == ["ask_rating"]  # back where the visit was
    assert visit.state.response_id == rid


def test_danger_at_the_first_language_offer_goes_back_to_the_menu(survey: Survey) -> None:
    visit = Visit(survey)
    visit.say("Dzień dobry, chciałbym opowiedzieć o mojej wizycie w szpitalu")
    assert visit.state.current == "offer_language"
    assert visit.say("i am going to kill myself tonight")[-1] == "ask_safety_check"
    assert visit.say("1") == ["ask_language"]
    assert visit.state.pending_language is None
