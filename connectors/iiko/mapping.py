"""Pure decisions: our event envelope → iiko requests, and iiko answers → what the hub reads.

No I/O here; destination.py and client.py do the calls.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from connectors.iiko import wire

FULL_PHONE = re.compile(r"^\+[1-9][0-9]{7,14}$")  # E.164, as the hub stores it; a masked one has '*'
MARK_TEMPLATE = "came through {program}"
EVENT_MARKER = "coalition-hub event {event_id}"


@dataclass(frozen=True)
class Skip:
    """The event needs nothing written in iiko; why, for the delivery log."""

    reason: str


@dataclass(frozen=True)
class VisitPlan:
    member_id: str
    visit_id: str
    phone: str
    mark: str  # the comment line that says which coalition program sent the guest


@dataclass(frozen=True)
class IikoSettings:
    """The iiko-specific part of a connector's settings."""

    organization_id: str
    category_id: str | None = None  # mark by this guest category; None: mark by a comment line
    accrual_wallet_id: str | None = None  # opt-in: top up this wallet on receipt.closed
    accrual_percent: Decimal | None = None


@dataclass(frozen=True)
class IikoCustomerInfo:
    """What the guest flow needs from iiko about a guest of a venue program delegated to iiko."""

    customer_id: str
    name: str | None
    tier: str | None  # iiko has no tiers: its guest categories play that part
    categories: tuple[str, ...]
    bonus_balance: Decimal  # sum of the bonus-program wallets, major units
    wallets: tuple[tuple[str, Decimal], ...]  # (wallet name or id, balance) for every wallet


def settings_of(auth: dict[str, Any], settings: dict[str, Any]) -> IikoSettings:
    """Read the connector's organization and marking options (missing organization is a config error)."""
    organization_id = str(auth.get("organization_id") or settings.get("organization_id") or "")
    if not organization_id:
        raise ValueError("iiko connector has no organization_id")
    percent = settings.get("accrual_percent")
    return IikoSettings(
        organization_id=organization_id,
        category_id=_str_or_none(settings.get("category_id")),
        accrual_wallet_id=_str_or_none(settings.get("accrual_wallet_id")),
        accrual_percent=Decimal(str(percent)) if percent is not None else None,
    )


def coalition_mark(envelope: dict[str, Any]) -> str:
    program = (envelope.get("program") or {}).get("name") or "the coalition"
    return MARK_TEMPLATE.format(program=program)


def visit_plan(envelope: dict[str, Any], personal_data: str) -> VisitPlan | Skip:
    """What to write for a visit.verified, or why nothing can be written."""
    data = envelope.get("data") or {}
    member = data.get("member") or {}
    if personal_data != "full":
        return Skip(f"personal_data is {personal_data!r}: iiko finds guests by their full phone")
    phone = member.get("phone")
    if not isinstance(phone, str) or not FULL_PHONE.match(phone):
        return Skip("the member has no full phone number: iiko finds guests by phone")
    return VisitPlan(
        member_id=str(member.get("id")),
        visit_id=str(data.get("visit_id")),
        phone=phone,
        mark=coalition_mark(envelope),
    )


def upsert_by_phone(plan: VisitPlan, organization_id: str) -> wire.CreateOrUpdateCustomerRequest:
    """Create the guest or find them by phone; touches no other field of an existing guest."""
    return wire.CreateOrUpdateCustomerRequest(organization_id=organization_id, phone=plan.phone)


def merged_comment(existing: str | None, mark: str) -> str | None:
    """The guest's comment with our mark appended; None when the mark is already there."""
    current = (existing or "").strip()
    if mark in current.splitlines():
        return None
    return f"{current}\n{mark}" if current else mark


def comment_update(
    customer_id: str, comment: str, organization_id: str
) -> wire.CreateOrUpdateCustomerRequest:
    return wire.CreateOrUpdateCustomerRequest(
        organization_id=organization_id, id=customer_id, comment=comment
    )


def has_category(info: wire.CustomerInfoResponse, category_id: str) -> bool:
    return any(c.id.lower() == category_id.lower() for c in info.categories)


def is_marked(info: wire.CustomerInfoResponse, mark: str, category_id: str | None) -> bool:
    """Whether the guest already carries our "came through" mark (category or comment line)."""
    if category_id is not None:
        return has_category(info, category_id)
    return merged_comment(info.comment, mark) is None


def accrual_sum(total_minor: int, percent: Decimal) -> Decimal:
    """Points to top up for a check: percent of the total, in major units, rounded down to kopecks."""
    return (Decimal(total_minor) * percent / Decimal(10_000)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def event_marker(event_id: str) -> str:
    """Put in a wallet operation's comment so a read-back finds it (iiko takes no idempotency key)."""
    return EVENT_MARKER.format(event_id=event_id)


def topup_request(
    customer_id: str, wallet_id: str, organization_id: str, amount: Decimal, event_id: str
) -> wire.ChangeUserBalanceRequest:
    return wire.ChangeUserBalanceRequest(
        customer_id=customer_id,
        wallet_id=wallet_id,
        sum=float(amount),
        comment=event_marker(event_id),
        organization_id=organization_id,
    )


def transactions_window(
    customer_id: str, organization_id: str, around: dt.datetime, page_size: int = 100
) -> wire.TransactionsByPeriodRequest:
    """The report page that must hold a wallet operation made for an event that happened `around` then."""
    start = (around - dt.timedelta(days=1)).astimezone(dt.UTC)
    end = (around + dt.timedelta(days=4)).astimezone(dt.UTC)  # retries run for about three days
    return wire.TransactionsByPeriodRequest(
        customer_id=customer_id,
        date_from=start.strftime(wire.DATE_TIME_FORMAT),
        date_to=end.strftime(wire.DATE_TIME_FORMAT),
        page_number=0,
        page_size=page_size,
        organization_id=organization_id,
    )


def has_operation(report: wire.TransactionsByPeriodResponse, event_id: str) -> bool:
    marker = event_marker(event_id)
    return any(t.comment is not None and marker in t.comment for t in report.transactions)


def customer_summary(info: wire.CustomerInfoResponse) -> IikoCustomerInfo:
    """Map customer/info into the small frozen view the guest flow reads."""
    active = tuple(c.name or c.id for c in info.categories if c.is_active)
    chosen = [c for c in info.categories if c.is_active and not c.is_default_for_new_guests]
    tier = (chosen[0].name or chosen[0].id) if chosen else (active[0] if active else None)
    wallets = tuple((w.name or w.id, _money(w.balance)) for w in info.wallet_balances)
    bonus = sum(
        (_money(w.balance) for w in info.wallet_balances if w.type == wire.WALLET_TYPE_BONUS),
        start=Decimal("0.00"),
    )
    name = " ".join(part for part in (info.name, info.surname) if part) or None
    return IikoCustomerInfo(
        customer_id=info.id, name=name, tier=tier, categories=active, bonus_balance=bonus, wallets=wallets
    )


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
