"""The quota calendar every service agrees on: ISO weeks in UTC, reset Monday 00:00 UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def iso_week(moment: datetime) -> str:
    """`2026-W48` for any moment in that ISO week (UTC)."""
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def week_resets_at(moment: datetime) -> datetime:
    """The next Monday 00:00 UTC strictly after `moment`."""
    utc = moment.astimezone(UTC)
    monday = (utc - timedelta(days=utc.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday + timedelta(days=7)
