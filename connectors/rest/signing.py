"""Standard Webhooks signatures (the reference `standardwebhooks` library signs; receivers verify with it)."""

from __future__ import annotations

import datetime as dt
import functools

from standardwebhooks import Webhook


@functools.lru_cache(maxsize=1024)
def _signer(secret: str) -> Webhook:
    """The verifier-compatible signer of one secret (its key decoded once, not per event)."""
    return Webhook(secret)


def webhook_headers(event_id: str, body: str, secrets: tuple[str, ...], at: dt.datetime) -> dict[str, str]:
    """webhook-id, webhook-timestamp, webhook-signature (one v1 signature per secret during a rotation)."""
    signatures = " ".join(_signer(secret).sign(event_id, at, body) for secret in secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }
