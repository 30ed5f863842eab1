"""Safety: recognising a person in danger, answering by kind, and a human follow-up.

``kinds`` names the kinds of risk; ``detector`` finds them in a message; ``review`` keeps
an anonymised copy of flagged messages for the trust's safeguarding team; ``alert`` tells
that team, without content, that something needs review.
"""
