"""The kinds of risk the detector tells apart, and which of them a trust reviews by default."""

from __future__ import annotations

RISK_KINDS: tuple[str, ...] = (
    "suicide_self_harm",
    "overdose_poisoning",
    "medical_emergency",
    "domestic_abuse",
    "child_at_risk",
    "adult_at_risk",
    "threat_to_others",
)
HARMLESS = "harmless"  # the label of look-alikes in data/safety/
# "Someone else is at risk": a trust can act on these (a named ward, a care home) even
# though the writer is anonymous, so they are kept for review unless the trust says not.
REVIEWED_BY_DEFAULT: tuple[str, ...] = ("child_at_risk", "adult_at_risk", "threat_to_others")
