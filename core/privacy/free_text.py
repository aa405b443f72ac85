"""Free text that is about to be signed into the ledger for good: does it look like PII?

An erasure's ``--reason`` is recorded in an event nobody can ever rewrite. A reason such as
"request from jane.doe@example.com" would keep, forever, exactly what the erasure removes.
These are heuristics (an e-mail address, a phone-like run of digits, an IBAN-like string,
the subject's own value), not a PII detector: a warning is shown for the patterns, and the
erasure is refused only when the text holds the subject value itself, which is certain.
"""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an e-mail address", re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")),
    ("a phone number", re.compile(r"(?<![\w])\+?\d[\d ()./-]{6,}\d(?![\w])")),
    ("an IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}\b")),
)

_PHONE_DIGITS = 9


def looks_personal(text: str) -> list[str]:
    """What in ``text`` looks like personal data (empty: nothing found); never the match."""
    found = []
    for what, pattern in _PATTERNS:
        hits = pattern.findall(text)
        if what == "a phone number":  # a date (8 digits) or a ticket number is not one
            hits = [h for h in hits if sum(c.isdigit() for c in h) >= _PHONE_DIGITS]
        if hits:
            found.append(what)
    return found


def contains_value(text: str, value: str) -> bool:
    """Whether ``text`` holds ``value`` (case and surrounding space ignored)."""
    needle = value.strip().casefold()
    return bool(needle) and needle in text.casefold()
