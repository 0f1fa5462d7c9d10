"""Standard Webhooks signatures (the reference `standardwebhooks` library signs; receivers verify with it)."""

from __future__ import annotations

import datetime as dt

from standardwebhooks import Webhook


def webhook_headers(event_id: str, body: str, secrets: tuple[str, ...], at: dt.datetime) -> dict[str, str]:
    """webhook-id, webhook-timestamp, webhook-signature (one v1 signature per secret during a rotation)."""
    signatures = " ".join(Webhook(secret).sign(event_id, at, body) for secret in secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }
