"""The questions of the feedback conversation, in order, and the choices each offers.

This is data, not dialogue logic: ``bot.survey`` walks it, ``bot.renderer`` draws it.
Choice values are stable identifiers stored in the database and exported; the words a
patient reads for them are in ``languages/<code>.yml`` under ``choices``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.catalogue import Catalogue, available_languages, catalogue
from bot.settings import TrustSettings, contacts_enabled

Choices = dict[str, list[str]]
Condition = Callable[[Choices], bool]

SERVICE_OTHER = "service_other"
FFT_RATINGS = ("very_good", "good", "neither", "poor", "very_poor", "dont_know")
BARRIERS = (
    "travel", "cost", "language", "appointment", "phone_online", "physical_access",
    "not_listened", "discrimination", "information_format", "caring_work",
    "something_else", "nothing",
)
AGE_BANDS = (
    "age_under_16", "age_16_24", "age_25_34", "age_35_44", "age_45_54", "age_55_64",
    "age_65_74", "age_75_84", "age_85_plus", "prefer_not",
)
# GSS harmonised ethnic group: a broad group first, then the detail, so a list on a
# basic phone never runs past a handful of lines.
ETHNIC_DETAIL = {
    "ethnic_white": ("white_british", "white_irish", "white_gypsy_traveller", "white_roma",
                     "white_other", "prefer_not"),
    "ethnic_mixed": ("mixed_white_black_caribbean", "mixed_white_black_african",
                     "mixed_white_asian", "mixed_other", "prefer_not"),
    "ethnic_asian": ("asian_indian", "asian_pakistani", "asian_bangladeshi", "asian_chinese",
                     "asian_other", "prefer_not"),
    "ethnic_black": ("black_african", "black_caribbean", "black_other", "prefer_not"),
    "ethnic_other": ("other_arab", "other_any", "prefer_not"),
}
RELIGIONS = (
    "religion_none", "religion_christian", "religion_buddhist", "religion_hindu",
    "religion_jewish", "religion_muslim", "religion_sikh", "religion_other", "prefer_not",
)
COMMUNICATION_NEEDS = (
    "interpreter", "bsl", "easy_read", "large_print", "audio", "help_from_someone",
    "no_needs", "prefer_not",
)
HOUSING = ("housing_settled", "housing_none", "housing_care_home", "housing_prison", "prefer_not")


def answered(key: str, *values: str) -> Condition:
    """True when the earlier question ``key`` was answered with any of ``values``."""
    return lambda choices: any(value in choices.get(key, []) for value in values)


def all_of(*conditions: Condition) -> Condition:
    return lambda choices: all(condition(choices) for condition in conditions)


def barriers_named(choices: Choices) -> bool:
    picked = choices.get("barriers", [])
    return bool(picked) and picked != ["nothing"]


@dataclass(frozen=True)
class Question:
    """One step. ``kind`` is "choice" (one answer), "multi" (several) or "text"."""

    key: str
    kind: str
    options: tuple[str, ...] = ()
    stored: bool = True
    skippable: bool = True
    when: Condition | None = None
    exclusive: tuple[str, ...] = ()  # multi: options that mean "none of these"
    prompt: str | None = None  # message key, when it is not "ask_<key>"
    # About the patient: a carer, relative or advocate answering is asked about the person
    # they help, in words that say so ("<response key>_helper").
    about_patient: bool = False

    def applies(self, choices: Choices) -> bool:
        return self.when is None or self.when(choices)

    @property
    def response_key(self) -> str:
        return self.prompt or f"ask_{self.key}"

    @property
    def helper_response_key(self) -> str:
        return f"{self.response_key}_helper" if self.about_patient else self.response_key

    def prompt_for(self, choices: Choices) -> str:
        """The message key that asks this question of whoever is answering."""
        return self.helper_response_key if answered_by_helper(choices) else self.response_key


def answered_by_helper(choices: Choices) -> bool:
    return choices.get("respondent") == ["helper"]


ABOUT_YOU = answered("about_you", "yes")


def self_described_adult(choices: Choices) -> bool:
    """Sexual orientation and gender identity: asked only of the person themselves, 16 or over.

    NHS monitoring of these is for people aged 16 and over, and they are the person's own
    to say: a carer answering is not asked them about the person they help.
    """
    return ABOUT_YOU(choices) and not answered_by_helper(choices) and (
        choices.get("age_band") != ["age_under_16"])


FLOW: tuple[Question, ...] = (
    Question("welcome", "choice", ("start", "not_now"), stored=False, skippable=False,
             prompt="welcome"),
    Question("respondent", "choice", ("patient", "helper")),
    Question("service", "choice"),  # options come from the trust settings
    Question("service_other", "text", when=answered("service", SERVICE_OTHER)),
    Question("rating", "choice", FFT_RATINGS),
    Question("rating_reason", "text"),
    Question("barriers", "multi", BARRIERS, exclusive=("nothing",)),
    Question("barriers_more", "text", when=barriers_named),
    Question("improve", "text"),
    Question("about_you", "choice", ("yes", "no"), about_patient=True),
    Question("age_band", "choice", AGE_BANDS, when=ABOUT_YOU, about_patient=True),
    Question("ethnic_group", "choice", (*ETHNIC_DETAIL, "prefer_not"), when=ABOUT_YOU,
             about_patient=True),
    *(
        Question(group, "choice", detail, about_patient=True,
                 when=all_of(ABOUT_YOU, answered("ethnic_group", group)))
        for group, detail in ETHNIC_DETAIL.items()
    ),
    Question("religion", "choice", RELIGIONS, when=ABOUT_YOU, about_patient=True),
    Question("sexual_orientation", "choice",
             ("straight", "gay_lesbian", "bisexual", "orientation_other", "prefer_not"),
             when=self_described_adult),
    Question("gender_identity", "choice", ("yes", "no", "prefer_not"), when=self_described_adult),
    Question("long_term_condition", "choice", ("yes", "no", "prefer_not"), when=ABOUT_YOU,
             about_patient=True),
    Question("condition_impact", "choice",
             ("impact_a_lot", "impact_a_little", "impact_not_at_all", "prefer_not"),
             when=all_of(ABOUT_YOU, answered("long_term_condition", "yes")), about_patient=True),
    Question("communication_needs", "multi", COMMUNICATION_NEEDS,
             exclusive=("no_needs", "prefer_not"), when=ABOUT_YOU, about_patient=True),
    Question("housing", "choice", HOUSING, when=ABOUT_YOU, about_patient=True),
    Question("involvement", "choice", ("yes", "no")),
    # Kept apart from the answers, encrypted (bot/contacts.py); asked only with CONTACT_KEY.
    Question("contact_details", "text", stored=False,
             when=all_of(answered("involvement", "yes"), lambda _: contacts_enabled())),
)

# Asked when the patient says "stop"; not part of the flow.
CONFIRM_STOP = Question(
    "confirm_stop", "choice", ("keep", "delete", "carry_on"), stored=False, skippable=False
)
# The language menu: first of all, and whenever the patient says "language".
LANGUAGE = Question("language", "choice", stored=False, skippable=False)
# "It looks like you are writing in Polish. Shall we carry on in Polish?"
OFFER_LANGUAGE = Question("offer_language", "choice", ("yes", "no"), stored=False,
                          skippable=False, prompt="offer_language")
# After the help that fits a danger message: carry on with the questions, or stop for now.
SAFETY_CHECK = Question("safety_check", "choice", ("carry_on", "stop_now"), stored=False,
                        skippable=False)
ASIDES = (CONFIRM_STOP, LANGUAGE, OFFER_LANGUAGE, SAFETY_CHECK)  # questions outside the flow

QUESTIONS: dict[str, Question] = {q.key: q for q in (*FLOW, *ASIDES)}
BY_RESPONSE_KEY: dict[str, Question] = {
    key: q for q in QUESTIONS.values() for key in {q.response_key, q.helper_response_key}}


def question(key: str) -> Question:
    return QUESTIONS[key]


def options_for(item: Question, settings: TrustSettings) -> tuple[str, ...]:
    """Choice values offered for ``item``; the service list comes from the trust."""
    if item.key == "service":
        return (*settings.service_keys(), SERVICE_OTHER)
    if item.key == LANGUAGE.key:
        return tuple(available_languages())
    return item.options


def next_question(after: str | None, choices: Choices) -> Question | None:
    """The first question after ``after`` (or the first of all) that applies."""
    keys = [q.key for q in FLOW]
    start = keys.index(after) + 1 if after in keys else 0
    return next((q for q in FLOW[start:] if q.applies(choices)), None)


def option_labels(item: Question, words: Catalogue, settings: TrustSettings) -> dict[str, str]:
    """Value -> label for the choices of ``item``, in the catalogue's language.

    The one place labels are made: the renderer shows them, the survey reads typed
    answers against them.
    """
    if item.key == LANGUAGE.key:  # each language in its own name and script
        return {code: catalogue(code).name for code in options_for(item, settings)}
    services = {s.key: s.name(words.code) for s in settings.services}
    return {v: services.get(v) or words.choice(v) for v in options_for(item, settings)}
