"""The generic REST connector: the event envelope POSTed as JSON, signed per Standard Webhooks."""

from connectors.rest.destination import RestDestination

__all__ = ["RestDestination"]
