"""Which registry rows a key may see: one SQL condition per table, applied in every query."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, false, or_, select, true

from hub.scope import Scope
from partners.models import Member, Offer, Partner, Program, Terminal, Venue


def _venue_partner(scope: Scope) -> ScalarSelect[uuid.UUID]:
    return select(Venue.partner_id).where(Venue.id == scope.venue_id).scalar_subquery()


def _partner_venue_ids(scope: Scope) -> Select[uuid.UUID]:
    return select(Venue.id).where(Venue.partner_id == scope.partner_id)


def programs(scope: Scope) -> ColumnElement[bool]:
    if scope.role == "admin":
        return true()
    if scope.role == "concierge":
        return Program.id.in_(scope.program_ids)
    if scope.role == "partner":
        offered = select(Offer.program_id).where(
            or_(Offer.partner_id == scope.partner_id, Offer.venue_id.in_(_partner_venue_ids(scope)))
        )
        return or_(Program.owner_partner_id == scope.partner_id, Program.id.in_(offered))
    if scope.role == "venue":
        partner = _venue_partner(scope)
        offered = select(Offer.program_id).where(
            or_(Offer.venue_id == scope.venue_id, Offer.partner_id == partner)
        )
        return or_(Program.owner_partner_id == partner, Program.id.in_(offered))
    return false()


def venues(scope: Scope) -> ColumnElement[bool]:
    if scope.role == "admin":
        return true()
    if scope.role == "partner":
        return Venue.partner_id == scope.partner_id
    if scope.role == "venue":
        return Venue.id == scope.venue_id
    if scope.role == "concierge":
        # a concierge books guests into the venues where its programs have an offer
        offer_here = (
            select(Offer.id)
            .where(
                Offer.program_id.in_(scope.program_ids),
                Offer.is_active.is_(True),
                or_(
                    Offer.venue_id == Venue.id,
                    Offer.partner_id == Venue.partner_id,
                    and_(Offer.venue_id.is_(None), Offer.partner_id.is_(None)),
                ),
            )
            .exists()
        )
        return offer_here
    return false()


def partners(scope: Scope) -> ColumnElement[bool]:
    if scope.role == "admin":
        return true()
    if scope.role == "partner":
        return Partner.id == scope.partner_id
    if scope.role == "venue":
        return Partner.id == _venue_partner(scope)
    if scope.role == "concierge":
        return Partner.id.in_(select(Venue.partner_id).where(venues(scope)))
    return false()


def terminals(scope: Scope) -> ColumnElement[bool]:
    if scope.role == "admin":
        return true()
    if scope.role == "partner":
        return Terminal.venue_id.in_(_partner_venue_ids(scope))
    if scope.role == "venue":
        return Terminal.venue_id == scope.venue_id
    return false()


def offers(scope: Scope) -> ColumnElement[bool]:
    if scope.role == "admin":
        return true()
    if scope.role == "concierge":
        return Offer.program_id.in_(scope.program_ids)
    if scope.role == "partner":
        owned = select(Program.id).where(Program.owner_partner_id == scope.partner_id)
        return or_(
            Offer.partner_id == scope.partner_id,
            Offer.venue_id.in_(_partner_venue_ids(scope)),
            Offer.program_id.in_(owned),
        )
    if scope.role == "venue":
        return or_(Offer.venue_id == scope.venue_id, Offer.partner_id == _venue_partner(scope))
    return false()


def members(scope: Scope) -> ColumnElement[bool]:
    """Members are seen by their program's concierge, and by the partner owning a venue program."""
    if scope.role == "admin":
        return true()
    if scope.role == "concierge":
        return Member.program_id.in_(scope.program_ids)
    if scope.role == "partner":
        return Member.program_id.in_(select(Program.id).where(Program.owner_partner_id == scope.partner_id))
    if scope.role == "venue":
        owner = _venue_partner(scope)
        return Member.program_id.in_(select(Program.id).where(Program.owner_partner_id == owner))
    return false()


def member_readers(scope: Scope) -> ColumnElement[bool]:
    """Whose members of a program a key may list: the same people as `members`, as a Program condition."""
    if scope.role == "venue":
        return Program.owner_partner_id == _venue_partner(scope)
    return member_writers(scope)


def member_writers(scope: Scope) -> ColumnElement[bool]:
    """Who may add, change or import members of a program: admin, its concierge, the owning partner."""
    if scope.role == "admin":
        return true()
    if scope.role == "concierge":
        return Program.id.in_(scope.program_ids)
    if scope.role == "partner":
        return Program.owner_partner_id == scope.partner_id
    return false()
