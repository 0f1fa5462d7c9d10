"""Concierge referrals (a member booked into a venue, fulfilled by a verified visit) and guest history."""

from hub.concierge.services import announce_visited, fulfil_referral, release_referral

__all__ = ["announce_visited", "fulfil_referral", "release_referral"]
