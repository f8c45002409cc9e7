"""notifications composition root: consumers record mail, a sender loop delivers it."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.logs import get_logger
from servicekit.runtime import ServiceRuntime

from notifications.adapters.mailer import MailComposer, SmtpMailer
from notifications.adapters.store import Deliveries, Recipients
from notifications.app.notifications import MailSender, Notifications, prime_mail_metrics
from notifications.entrypoints.consumers import register_consumers
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
    app = rt.create_app([], title="notifications")
    app.state.notifications = notifications
    app.state.sender = sender
    return app
