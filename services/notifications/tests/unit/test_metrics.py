"""The mail counters exist at 0 for every kind as soon as the app is built: the MailParked
alert (deploy/observability/alerts.yml) takes increase(), which would miss a pod's first
parked mail if the series only appeared with it."""

from __future__ import annotations

from notifications.main import create_app
from notifications.settings import Settings
from servicekit.metrics import REGISTRY


def test_every_kind_is_exported_at_zero_before_any_mail() -> None:
    create_app(Settings(gc_freeze=False))
    for kind in ("verify_email", "password_reset", "report_ready", "session_failed", "welcome"):
        for metric in ("sent", "failed", "parked"):
            value = REGISTRY.get_sample_value(f"notifications_mail_{metric}_total", {"kind": kind})
            assert value is not None, (metric, kind)
