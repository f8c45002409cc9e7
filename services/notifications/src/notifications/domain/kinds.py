"""The kinds of mail the service sends and which preference each one answers to.

Account security mail (verification, password reset) answers to none: it is always sent and
carries no unsubscribe link. Every other mail carries a one-click unsubscribe link for its
preference; the welcome mail, sent once, offers to turn everything off ("all").
"""

from __future__ import annotations

from typing import Final

SECURITY_KINDS: Final = frozenset({"verify_email", "password_reset"})

PREFERENCES: Final = ("report_ready", "session_failed", "quota_reached", "billing")
"""What a user can turn off, in the order the account page lists them."""

ALL: Final = "all"

PREFERENCE_OF: Final[dict[str, str]] = {
    "welcome": ALL,
    "report_ready": "report_ready",
    "session_failed": "session_failed",
    "quota_reached": "quota_reached",
    "plan_upgraded": "billing",
    "payment_failed": "billing",
    "plan_downgraded": "billing",
}

LABELS: Final[dict[str, str]] = {
    "report_ready": "report ready",
    "session_failed": "interview could not be finished",
    "quota_reached": "last interview of the week",
    "billing": "receipts and payments",
}


def preference_of(kind: str) -> str | None:
    """The preference a mail kind answers to; None for account security mail."""
    if kind in SECURITY_KINDS:
        return None
    return PREFERENCE_OF.get(kind, ALL)


def preferences_from(stored: dict[str, object] | None) -> dict[str, bool]:
    """Every preference, on unless the user turned it off."""
    stored = stored or {}
    return {name: stored.get(name) is not False for name in PREFERENCES}


def allows(stored: dict[str, object] | None, kind: str) -> bool:
    """Whether a user with these stored preferences gets mail of this kind."""
    preference = preference_of(kind)
    if preference is None or preference == ALL:
        return True
    return preferences_from(stored)[preference]


def unsubscribed_kinds(preference: str) -> list[str]:
    """The preferences an unsubscribe token for `preference` turns off."""
    return list(PREFERENCES) if preference == ALL else [preference]
