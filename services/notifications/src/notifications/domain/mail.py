"""A mail's life, without I/O: where it goes (`Recipient`), its delivery states, how a try
can fail, and the signed token of a one-click unsubscribe link."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
PARKED = "parked"
CANCELLED = "cancelled"
SUPPRESSED = "suppressed"


def delivery_id(event_id: str, purpose: str) -> str:
    return f"{event_id}:{purpose}"


class TransientFailure(Exception):
    """The SMTP server could not be reached or asked to try later (4xx): retry."""


class PermanentRejection(Exception):
    """The server refused the recipient for good (5xx): stop mailing the address."""


class MessageRejected(Exception):
    """The server refused this message for good (5xx on DATA): park it, keep the address."""


def unsubscribe_token(secret: str, user_id: str, kind: str) -> str:
    """`<base64url(user_id:kind)>.<base64url(HMAC-SHA256)>`: works signed-out, cannot be
    forged for another user or kind without the secret."""
    body = base64.urlsafe_b64encode(f"{user_id}:{kind}".encode()).rstrip(b"=").decode()
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def read_unsubscribe_token(secret: str, token: str) -> tuple[str, str] | None:
    """(user_id, kind) of a token this secret signed, else None."""
    body, _, mac = token.partition(".")
    good = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    try:
        given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        if not hmac.compare_digest(good, given):
            return None
        plain = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except ValueError:
        return None
    user_id, _, kind = plain.rpartition(":")
    return user_id, kind


@dataclass(frozen=True)
class Recipient:
    user_id: str
    name: str
    email: str
