"""The Stripe webhook signing secret: STRIPE_WEBHOOK_SECRET when set (always in
production), otherwise one generated once and kept under DATA_DIR, so the local checkout
and the webhook handler agree across restarts."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_webhook_secret(configured: str | None, data_dir: Path) -> str:
    if configured:
        return configured
    path = data_dir / "billing" / "stripe-webhook-secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    secret = "whsec_" + secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret
