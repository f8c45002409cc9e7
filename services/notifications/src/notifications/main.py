"""notifications composition root: consumers record mail, a sender loop delivers it, and a
small HTTP API reads and changes what mail a user gets."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.identity import auth_verifier
from servicekit.logs import get_logger
from servicekit.runtime import ServiceRuntime

from notifications.adapters.mailer import MailComposer, SmtpMailer
from notifications.adapters.store import Deliveries, Recipients
from notifications.app.notifications import MailSender, Notifications, prime_mail_metrics
from notifications.app.preferences import MailPreferences
from notifications.entrypoints.consumers import register_consumers
from notifications.entrypoints.http import router
from notifications.settings import Settings

log = get_logger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime(settings)
    # notifications publishes nothing: no outbox to relay
    rt.relay_enabled = False
    composer = MailComposer(settings)
    mailer = SmtpMailer(settings)
    notifications = Notifications(settings)
    sender = MailSender(composer, mailer, settings)
    preferences = MailPreferences(settings)
    register_consumers(rt, notifications, sender)
    prime_mail_metrics(composer.kinds())

    @rt.on_startup
    async def _prepare(runtime: ServiceRuntime) -> None:
        # collections exist only inside the lifespan (the Mongo client is made there)
        recipients = Recipients(runtime.db)
        deliveries = Deliveries(runtime.db)
        await deliveries.ensure_indexes()
        notifications.bind(recipients, deliveries)
        sender.bind(deliveries, recipients)
        preferences.bind(recipients)
        sender.start()
        log.info(
            "notifications.smtp",
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            login=bool(settings.smtp_user),
        )

    @rt.on_shutdown
    async def _stop(_: ServiceRuntime) -> None:
        await sender.stop()

    async def sender_running() -> bool:
        return sender.running

    rt.readiness_checks["mail_sender"] = sender_running
    app = rt.create_app([router], title="notifications")
    app.state.verifier = auth_verifier(settings)
    app.state.notifications = notifications
    app.state.preferences = preferences
    app.state.sender = sender
    return app
