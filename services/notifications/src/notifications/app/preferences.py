"""Which mail a user gets: read and changed signed in (the account page), or turned off
signed out with the token of a mail's unsubscribe link (RFC 8058 one-click)."""

from __future__ import annotations

from servicekit.problems import DomainError

from notifications.app.ports import RecipientStore
from notifications.domain.kinds import (
    ALL,
    LABELS,
    PREFERENCES,
    preferences_from,
    unsubscribed_kinds,
)
from notifications.domain.mail import read_unsubscribe_token
from notifications.settings import Settings


class InvalidUnsubscribeToken(DomainError):
    status = 400
    code = "invalid_token"
    title = "Invalid unsubscribe link"


class AccountNotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class MailPreferences:
    recipients: RecipientStore

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def bind(self, recipients: RecipientStore) -> None:
        self.recipients = recipients

    async def of(self, user_id: str) -> dict[str, bool]:
        stored = await self.recipients.preferences(user_id)
        if stored is None:
            raise AccountNotFound("This account has been deleted.")
        return preferences_from(stored)

    async def change(self, user_id: str, changes: dict[str, bool]) -> dict[str, bool]:
        stored = await self.recipients.set_preferences(
            user_id, {k: v for k, v in changes.items() if k in PREFERENCES}
        )
        if stored is None:
            raise AccountNotFound("This account has been deleted.")
        return preferences_from(stored)

    async def unsubscribe(self, token: str) -> list[str]:
        """Turn off what the token names; the kinds turned off. Repeating it is harmless, and
        a deleted account's link still answers (it gets no mail anyway)."""
        read = read_unsubscribe_token(self.settings.unsubscribe_secret.get_secret_value(), token)
        if read is None:
            raise InvalidUnsubscribeToken(
                "This unsubscribe link is not valid. Change which emails you get on your "
                "account page instead."
            )
        user_id, preference = read
        if preference != ALL and preference not in PREFERENCES:
            raise InvalidUnsubscribeToken("This unsubscribe link names no kind of mail.")
        kinds = unsubscribed_kinds(preference)
        await self.recipients.set_preferences(user_id, dict.fromkeys(kinds, False))
        return kinds

    @staticmethod
    def describe(kinds: list[str]) -> str:
        return "You will no longer get these emails: " + ", ".join(LABELS[k] for k in kinds) + "."
