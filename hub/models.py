"""Every ORM model of the hub, imported so that Base.metadata knows all tables (migrations, tests)."""

from hub.auth import ApiKey
from partners.models import Member, Offer, Partner, Program, Terminal, Tier, Venue

__all__ = ["ApiKey", "Member", "Offer", "Partner", "Program", "Terminal", "Tier", "Venue"]
