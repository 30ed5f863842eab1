"""Staff corrections of an answer's themes and sentiment (the staff app and the command line).

A correction goes through :meth:`bot.store.Store.correct_themes`: the answer's themes become
the corrected ones at once, and the correction is kept for the next
``patient-voice themes train`` (:meth:`bot.store.Store.corrections`).

The themes offered are the QDC categories of the themes model when one can be loaded
(``bot.themes.load``), else the categories already in the store, plus the answer's own
current themes; anything else is refused, so a typo cannot become a new category.

Every correction writes one line to the ``patient_voice.audit`` logger: the action, the
answer id and who made it, never the comment's text or themes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from sqlalchemy import select

from bot.store import AnswerThemesRow, Store, ThemeCorrectionRow

AUDIT = logging.getLogger("patient_voice.audit")
log = logging.getLogger(__name__)
SENTIMENT_VALUES = ("1", "2", "3", "4", "5")


class CorrectionError(ValueError):
    """The correction cannot be saved; the message is safe to show (no patient text)."""


def enable_audit_log() -> None:
    """Make audit lines appear on standard error when nothing else handles logging."""
    AUDIT.setLevel(logging.INFO)
    if not AUDIT.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s audit %(message)s"))
        AUDIT.addHandler(handler)


def model_categories(path: str | None = None) -> list[str] | None:
    """The categories the themes model knows, or None when there is no usable model."""
    from bot import themes

    try:
        return list(themes.load(path).categories)
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 - an old or broken file: fall back to the store
        log.warning("themes model not usable (%s); offering the store's themes",
                    type(error).__name__)
        return None


def store_categories(store: Store) -> list[str]:
    """Every theme given to an answer or used in a correction so far."""
    found: set[str] = set()
    with store.session() as s:
        for table in (AnswerThemesRow, ThemeCorrectionRow):
            for value in s.execute(select(table.themes)).scalars():
                found.update(value or [])
    return sorted(found)


def categories(store: Store, current: Iterable[str] = (), model: str | None = None) -> list[str]:
    """The themes staff may choose for an answer whose themes are now ``current``."""
    known = model_categories(model)
    if known is None:
        known = store_categories(store)
    return sorted({*known, *current}, key=str.casefold)


def parse(themes: Sequence[str], sentiment: str | None, allowed: Iterable[str]
          ) -> tuple[list[str], int | None]:
    """The themes and sentiment of a correction form; CorrectionError if they make no sense.

    An empty ``sentiment`` leaves the answer's sentiment as it is.
    """
    allowed = set(allowed)
    chosen = list(dict.fromkeys(t.strip() for t in themes if t and t.strip()))
    if any(theme not in allowed for theme in chosen):
        raise CorrectionError("Unknown theme. Choose themes from the list.")
    value = (sentiment or "").strip()
    if value and value not in SENTIMENT_VALUES:
        raise CorrectionError("Sentiment must be 1 (very positive) to 5 (very negative).")
    if not chosen:
        raise CorrectionError("Choose at least one theme.")
    return chosen, int(value) if value else None


def correct(store: Store, answer_id: int, themes: list[str], sentiment: int | None, *,
            who: str) -> bool:
    """Save the correction and write its audit line; False if the answer cannot take one
    (gone, or still waiting for its English translation)."""
    saved = store.correct_themes(answer_id, themes, sentiment)
    if saved:
        AUDIT.info("action=correct_themes answer=%d by=%s", answer_id, who)
    return saved
