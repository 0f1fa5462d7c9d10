"""amoCRM (API v4): each guest event becomes a note on the guest's contact, found or created by phone."""

from connectors.amocrm.client import AmoCrmClient, RateLimiter, RateLimits
from connectors.amocrm.destination import AmoCrmDestination

__all__ = ["AmoCrmClient", "AmoCrmDestination", "RateLimiter", "RateLimits"]
