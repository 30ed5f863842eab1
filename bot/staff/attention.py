"""The staff app's "needs attention" page: the safeguarding review queue in staff's words.

Only users with the ``safeguarding`` role see it (``bot.staff.app``). Each review is shown
with its kind in plain English, the service's and the language's English names, the day
and the anonymised text (``bot.safety.review``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.questions import SERVICE_OTHER
from bot.safety.review import Review, all_reviews, open_reviews
from bot.store import Store

log = logging.getLogger(__name__)
ACKNOWLEDGED_SHOWN = 50  # recently acknowledged reviews listed under the open ones
NO_SERVICE = "No service given"


@dataclass(frozen=True)
class Shown:
    """A review as the page shows it."""

    review: Review
    service: str  # the service's English name
    language: str  # the language's English name


@dataclass(frozen=True)
class Queue:
    open: list[Shown]
    acknowledged: list[Shown]
    review_days: int  # how long a review is kept (safeguarding.review_days)


def service_names() -> dict[str, str]:
    """Service key -> English name, from the trust settings (empty if they cannot be read)."""
    from bot.settings import trust_settings

    try:
        services = trust_settings().services
    except Exception as error:  # noqa: BLE001 - the page still shows the keys
        log.warning("trust settings unreadable (%s); showing service keys",
                    type(error).__name__)
        return {}
    return {service.key: service.name("en") for service in services}


def language_name(code: str) -> str:
    """``pl`` -> ``Polish``; a code with no language file is shown as it is."""
    from bot.catalogue import available_languages, catalogue

    try:
        return catalogue(code).english_name if code in available_languages() else code
    except Exception:  # noqa: BLE001 - a language file being edited: show the code
        return code


def review_days() -> int:
    from bot.settings import Safeguarding, trust_settings

    try:
        return trust_settings().safeguarding.review_days
    except Exception:  # noqa: BLE001 - already logged by service_names
        return Safeguarding().review_days


def queue(store: Store) -> Queue:
    """The open reviews and the recently acknowledged ones, newest first."""
    names = {**service_names(), SERVICE_OTHER: "Somewhere else"}

    def shown(review: Review) -> Shown:
        service = names.get(review.service, review.service) if review.service else NO_SERVICE
        return Shown(review, service, language_name(review.language))

    acknowledged = all_reviews(store, acknowledged=True, limit=ACKNOWLEDGED_SHOWN)
    return Queue([shown(r) for r in open_reviews(store)], [shown(r) for r in acknowledged],
                 review_days())
