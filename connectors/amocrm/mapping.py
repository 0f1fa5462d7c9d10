"""Ours → amoCRM, pure: the note for an event, the contact for a phone, and how an event finds its contact.

Only `visit.verified` carries the guest (data.member, with the phone for a `full` connector). The other
events name the visit or the receipt instead, so the destination remembers visit → contact and
receipt → contact as it goes (the dispatcher keeps each member's events in order) and these
functions say which of those links an event follows and which it leaves behind.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.amocrm import wire

NOTE_EVENTS = frozenset(
    {"visit.verified", "visit.cancelled", "receipt.closed", "receipt.refunded", "referral.visited"}
)
MARKER_PREFIX = "coalition-hub event"
_E164 = re.compile(r"\+[1-9]\d{6,14}")  # what the hub sends; a masked phone (+7916***4567) never matches
PHONE_TAIL = 10  # digits compared: the national number, so +7 916… and 8 916… are the same guest

# ISO 4217 currencies without minor units that a venue might plausibly use; the rest have two
_ZERO_EXPONENT = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "KMF", "PYG", "XAF", "XOF"})


def event_marker(event_id: uuid.UUID) -> str:
    """The line every note ends with: how a retry recognises a note it already wrote."""
    return f"[{MARKER_PREFIX} {event_id}]"


def has_event_marker(text: str | None, event_id: uuid.UUID) -> bool:
    return text is not None and event_marker(event_id) in text


def find_event_note(notes: Iterable[wire.Note], event_id: uuid.UUID) -> int | None:
    """The id of the note written for this event, if one of these is it."""
    for note in notes:
        if isinstance(note.params, wire.NoteParams) and has_event_marker(note.params.text, event_id):
            return note.id
    return None


def note_for(envelope: Mapping[str, Any], event_id: uuid.UUID, contact_id: int) -> wire.NewNote:
    return wire.NewNote(
        note_type="common",
        params=wire.NoteParams(text=note_text(envelope, event_id)),
        entity_id=contact_id,
    )


def note_text(envelope: Mapping[str, Any], event_id: uuid.UUID) -> str:
    """What the venue's staff read on the guest's card, ending with the event's marker."""
    data: Mapping[str, Any] = envelope.get("data") or {}
    program = _name(envelope.get("program"))
    venue = _name(envelope.get("venue"))
    headline = _headline(str(envelope.get("type", "")), data, program, venue)
    return f"{headline}\n{event_marker(event_id)}"


def _headline(event_type: str, data: Mapping[str, Any], program: str, venue: str) -> str:
    currency = str(data.get("currency", ""))
    if event_type == "visit.verified":
        tier = (data.get("member") or {}).get("tier_code")
        tier_part = f", уровень {tier}" if tier else ""
        return f"Визит по программе «{program}» в «{venue}»: гость подтвердил PIN{tier_part}."
    if event_type == "visit.cancelled":
        reason = data.get("reason")
        reason_part = f" Причина: {reason}." if reason else ""
        return f"Визит по программе «{program}» в «{venue}» отменён, без чека.{reason_part}"
    if event_type == "receipt.closed":
        return (
            f"Чек {data.get('check_id', '')} в «{venue}» по программе «{program}»: "
            f"сумма {money(data.get('subtotal_minor'), currency)}, "
            f"скидка {money(data.get('discount_minor'), currency)}, "
            f"итого {money(data.get('total_minor'), currency)}."
        )
    if event_type == "receipt.refunded":
        reason = data.get("reason")
        reason_part = f" Причина: {reason}." if reason else ""
        return f"Возврат по чеку в «{venue}»: {money(data.get('amount_minor'), currency)}.{reason_part}"
    if event_type == "referral.visited":
        return f"Рекомендация по программе «{program}»: приглашённый гость пришёл в «{venue}»."
    return f"Событие {event_type} в «{venue}»."


def money(amount_minor: object, currency: str) -> str:
    """1234567 RUB → "12 345.67 RUB"; a missing amount shows as "—"."""
    if not isinstance(amount_minor, int):
        return "—"
    exponent = 0 if currency.upper() in _ZERO_EXPONENT else 2
    sign = "-" if amount_minor < 0 else ""
    whole, minor = divmod(abs(amount_minor), 10**exponent)
    whole_text = f"{whole:,}".replace(",", " ")
    number = f"{whole_text}.{minor:0{exponent}d}" if exponent else whole_text
    return f"{sign}{number} {currency}".strip()


def _name(part: object) -> str:
    return str(part.get("name", "")) if isinstance(part, Mapping) else ""


# Finding the contact


def member_phone(envelope: Mapping[str, Any], personal_data: str) -> str | None:
    """The guest's phone in full, or None: a masked phone must never be searched for or written."""
    if personal_data != "full":
        return None
    member = (envelope.get("data") or {}).get("member")
    phone = member.get("phone") if isinstance(member, Mapping) else None
    return phone if isinstance(phone, str) and _E164.fullmatch(phone) else None


def phone_key(phone: str) -> str:
    """The refs key for a phone's contact: sha256 of the E.164 number, so refs never hold it in clear."""
    return hashlib.sha256(phone.encode()).hexdigest()


def search_query(phone: str) -> str:
    """The national digits: amoCRM's `query` matches them whether the card says +7 916… or 8 (916)…."""
    return _digits(phone)[-PHONE_TAIL:]


def phones_match(stored: str, phone: str) -> bool:
    a, b = _digits(stored), _digits(phone)
    return len(a) >= 7 and a[-PHONE_TAIL:] == b[-PHONE_TAIL:]


def matching_contact(contacts: Iterable[wire.Contact], phone: str) -> int | None:
    """The oldest contact whose PHONE field holds this number (`query` also matches other fields)."""
    ids = [c.id for c in contacts if not c.is_deleted and any(phones_match(p, phone) for p in _phones(c))]
    return min(ids) if ids else None


def _phones(contact: wire.Contact) -> list[str]:
    return [
        value.value
        for field in contact.custom_fields_values or []
        if field.field_code == "PHONE"
        for value in field.values
        if isinstance(value.value, str)
    ]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def new_contact(phone: str, envelope: Mapping[str, Any]) -> wire.NewContact:
    """A contact holding only the phone (as a mobile number), named for the program, tagged with it."""
    program = _name(envelope.get("program"))
    name = f"Гость программы «{program}»" if program else "Гость программы"
    phone_field = wire.CustomField(
        field_code="PHONE", values=[wire.CustomFieldValue(value=phone, enum_code="MOB")]
    )
    tags = wire.ContactEmbedded(tags=[wire.Tag(name=program)]) if program else None
    return wire.NewContact(name=name, custom_fields_values=[phone_field], embedded=tags)


def contact_links(envelope: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The refs (kind, key) that lead from this event to a contact remembered earlier."""
    data: Mapping[str, Any] = envelope.get("data") or {}
    links = [("receipt", data.get("receipt_id")), ("visit", data.get("visit_id"))]
    return [(kind, str(key)) for kind, key in links if key]


def links_to_remember(envelope: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The refs (kind, key) that later events of this guest will follow to the same contact."""
    return contact_links(envelope)
