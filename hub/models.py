"""Every ORM model of the hub, imported so that Base.metadata knows all tables (migrations, tests)."""

from connectors.models import Connector, ConnectorRef, ConnectorToken, Delivery, DeliveryAttempt
from connectors.outbox.models import OutboxEvent
from hub.audit.models import AuditEntry, AuditHead
from hub.auth import ApiKey
from hub.concierge.models import Referral
from hub.flow.models import BonusEntry, IdempotencyRecord, Receipt, Refund, Scan, Visit
from hub.ratelimit import RateLimitWindow
from hub.settlement.models import SettlementClose
from hub.stats.models import RfmRun, RfmScore, StatsDaily, StatsDailyGuest
from hub.web.models import WebSession
from partners.models import Member, Offer, Partner, Program, Terminal, Tier, Venue
from pin.models import PinChallenge, SmsSend

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AuditHead",
    "BonusEntry",
    "Connector",
    "ConnectorRef",
    "ConnectorToken",
    "Delivery",
    "DeliveryAttempt",
    "IdempotencyRecord",
    "Member",
    "Offer",
    "OutboxEvent",
    "Partner",
    "PinChallenge",
    "Program",
    "RateLimitWindow",
    "Receipt",
    "Referral",
    "Refund",
    "RfmRun",
    "RfmScore",
    "Scan",
    "SettlementClose",
    "SmsSend",
    "StatsDaily",
    "StatsDailyGuest",
    "Terminal",
    "Tier",
    "Venue",
    "Visit",
    "WebSession",
]
