"""How an email address and a display name are spelled, for every service that keys on them.

One function makes an email canonical: auth stores and looks accounts up by it, and the
gateway keys the per-account login limit on it, so no other spelling (fullwidth, mixed case,
padded) of an address gets a budget of its own. The checks refuse what a person cannot see:
control, format (zero-width, bidirectional overrides) and unassigned characters anywhere, and
in an email's local part letters from several scripts or a non-Latin spelling made only of
letters that look Latin ("admin" with a Cyrillic first letter, "paypal" spelled all in
Cyrillic).
"""

from __future__ import annotations

import re
import unicodedata

_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)
# categories a person cannot see or that change how text around them is shown
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Cyrillic and Greek letters drawn like Latin ones (Unicode confusables, lower case after NFKC)
_LOOKS_LATIN = frozenset(
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u0501\u04bb\u04cf"
    "\u051b\u051d\u044a\u044c\u0432\u043a\u043c\u043d\u0442\u0433\u043f"  # Cyrillic
    "\u03b1\u03b2\u03b5\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7\u03b6\u03b7"
    "\u03c9"  # Greek
)


def canonical_email(raw: str) -> str:
    """The one spelling of an address: NFKC (fullwidth letters become ASCII), trimmed,
    lower-cased. Never raises: the gateway uses it on whatever a client sent."""
    return unicodedata.normalize("NFKC", raw).strip().lower()


def invisible_characters(text: str) -> list[str]:
    """The code points of `text` that a person would not see (as U+XXXX)."""
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in _INVISIBLE]


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def email_problem(email: str) -> str | None:
    """Why a canonical email cannot be registered, or None."""
    if len(email) > 254 or not _EMAIL.match(email):
        return "not a valid email address"
    if invisible_characters(email):
        return "contains invisible or control characters"
    local = email.split("@", 1)[0]
    letters = [c for c in local if c.isalpha()]
    scripts = {_script(c) for c in letters}
    if len(scripts) > 1:
        return "mixes letters from different alphabets"
    if letters and scripts != {"LATIN"} and all(c in _LOOKS_LATIN for c in letters):
        return "is spelled with letters that only look Latin"
    return None


def name_problem(name: str) -> str | None:
    """Why a display name cannot be used, or None."""
    hidden = invisible_characters(name)
    if hidden:
        return f"contains invisible or control characters ({', '.join(hidden[:3])})"
    return None
