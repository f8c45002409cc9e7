"""Mail out: the message (text and HTML from Jinja2 templates, one-click unsubscribe headers)
and its delivery over SMTP with aiosmtplib, with failures sorted into "try again later" and
"this address will never take it"."""

from __future__ import annotations

import email.policy
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import urlencode

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notifications.domain.kinds import preference_of
from notifications.domain.mail import (
    MessageRejected,
    PermanentRejection,
    Recipient,
    TransientFailure,
    unsubscribe_token,
)
from notifications.settings import Settings

# Lines up to SMTP's 998 limit: at the default 78, the email package turns a long
# List-Unsubscribe URL into RFC 2047 encoded words, which mail clients do not read as a link
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)


class MailComposer:
    """Renders a kind's templates into a multipart/alternative message."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.templates = Environment(
            loader=PackageLoader("notifications", "templates"),
            # HTML templates escape every value (a name like <script> stays text); the text
            # part and the subject are plain text and must not carry &lt; entities
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _, address = parseaddr(settings.smtp_from)
        self.domain = address.rpartition("@")[2] or "localhost"

    def kinds(self) -> list[str]:
        """Every kind of mail there is a subject template for."""
        suffix = ".subject.txt"
        names = self.templates.list_templates(filter_func=lambda name: name.endswith(suffix))
        return sorted(name.removesuffix(suffix) for name in names)

    def unsubscribe_links(self, user_id: str, kind: str) -> tuple[str, str] | None:
        """For the preference this kind answers to (None for account security mail): the
        one-click URL a mail client POSTs to (List-Unsubscribe, RFC 8058: the API), and the
        web page the mail's own link opens (it asks before it unsubscribes)."""
        preference = preference_of(kind)
        if preference is None:
            return None
        token = unsubscribe_token(
            self.settings.unsubscribe_secret.get_secret_value(), user_id, preference
        )
        base = self.settings.web_base_url.rstrip("/")
        query = urlencode({"token": token})
        return f"{base}/notifications/unsubscribe?{query}", f"{base}/unsubscribe?{query}"

    def compose(
        self, delivery_id: str, kind: str, to: Recipient, context: dict[str, Any]
    ) -> EmailMessage:
        links = self.unsubscribe_links(to.user_id, kind)
        values = {
            **context,
            "name": to.name,
            "web_base_url": self.settings.web_base_url.rstrip("/"),
            "unsubscribe_url": links[1] if links else None,
        }
        subject = self.templates.get_template(f"{kind}.subject.txt").render(values)
        text = self.templates.get_template(f"{kind}.txt").render(values)
        html = self.templates.get_template(f"{kind}.html").render(values)

        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = Address(display_name=to.name, addr_spec=to.email)
        message["Subject"] = " ".join(subject.split())
        message["Date"] = format_datetime(datetime.now(UTC))
        # the same id on a resend after a lost acknowledgement: receivers can drop the copy
        message["Message-ID"] = f"<{delivery_id.replace(':', '.')}@{self.domain}>"
        message["X-Mail-Kind"] = kind
        if links:
            message["List-Unsubscribe"] = f"<{links[0]}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message


class SmtpMailer:
    """Sends one message with aiosmtplib; raises TransientFailure, PermanentRejection or
    MessageRejected."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        to = message["To"]
        recipients = [address.addr_spec for address in to.addresses]
        try:
            await aiosmtplib.send(
                message.as_bytes(policy=WIRE_POLICY),
                sender=parseaddr(s.smtp_from)[1],
                recipients=recipients,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user or None,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                start_tls=s.smtp_starttls,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if codes and all(code >= 500 for code in codes):
                raise PermanentRejection(reason) from exc
            raise TransientFailure(reason) from exc
        except aiosmtplib.SMTPRecipientRefused as exc:
            reason = f"{exc.code} {exc.message}"
            if exc.code >= 500:
                raise PermanentRejection(reason) from exc
            raise TransientFailure(reason) from exc
        except aiosmtplib.SMTPDataError as exc:
            reason = f"{exc.code} {exc.message}"
            if exc.code >= 500:
                raise MessageRejected(reason) from exc
            raise TransientFailure(reason) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # connection refused or dropped, timeouts, 4xx, and sender or login refusals
            # (a configuration an operator fixes: worth retrying until parked)
            raise TransientFailure(repr(exc)) from exc
