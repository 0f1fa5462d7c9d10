"""The transactional outbox: events are written in the caller's transaction, delivered later."""

from connectors.outbox.models import OutboxEvent
from connectors.outbox.writer import EventContext, enqueue

__all__ = ["EventContext", "OutboxEvent", "enqueue"]
