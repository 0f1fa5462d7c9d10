"""Members: phones normalised, encrypted (bound to the row) and blind-indexed; CSV import as an upsert."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from msgspec import UNSET
from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.clock import utcnow
from hub.crypto import Keyring
from hub.errors import ForbiddenError, InvalidInputError
from hub.ids import new_id
from hub.schema import Page, page_of
from hub.scope import Scope
from partners import visibility
from partners.errors import CardNumberTakenError, MemberNotFoundError, TierAutoPromotedError
from partners.models import Member, Program
from partners.phones import InvalidPhoneError, mask_phone, normalize_phone
from partners.schemas import ImportRejection, ImportReport, MemberCreate, MemberRead, MemberUpdate
from partners.services import _page, load_program

CARD_NUMBER_RE = re.compile(r"^[0-9A-Za-z-]{1,64}$")
IMPORT_CHUNK = 1000


def phone_aad(member_id: uuid.UUID) -> str:
    return f"member.phone:{member_id}"


def normalize_card_number(raw: str) -> str:
    return raw.strip().upper()


def member_read(member: Member) -> MemberRead:
    return MemberRead(
        id=member.id,
        program_id=member.program_id,
        card_number=member.card_number,
        phone_masked=member.phone_masked,
        name=member.name,
        tier_code=member.tier_code,
        status=member.status,  # type: ignore[arg-type]  # constrained by a CHECK
        created_at=member.created_at,
        updated_at=member.updated_at,
    )


def _phone_columns(keyring: Keyring, member_id: uuid.UUID, e164: str) -> dict[str, object]:
    return {
        "phone_ciphertext": keyring.encrypt_str(e164, phone_aad(member_id)),
        "phone_index": keyring.blind_index(e164),
        "phone_masked": mask_phone(e164),
    }


def decrypt_phone(keyring: Keyring, member: Member) -> str:
    return keyring.decrypt_str(member.phone_ciphertext, phone_aad(member.id))


async def load_writable_program(session: AsyncSession, scope: Scope, program_id: uuid.UUID) -> Program:
    """The program, if this key may add or change its members (else 404, or 403 if it may only read)."""
    program = await load_program(session, scope, program_id)
    allowed = await session.scalar(
        select(Program.id).where(Program.id == program.id, visibility.member_writers(scope))
    )
    if allowed is None:
        raise ForbiddenError("This key may read this program but not change its members.")
    return program


def _check_tier(program: Program, tier_code: str | None) -> str:
    codes = [t.code for t in program.tiers]
    if tier_code is None:
        return codes[0]
    if tier_code not in codes:
        raise InvalidInputError(
            f"The program has no tier {tier_code!r}; it has: {', '.join(codes)}.", field="tier_code"
        )
    return tier_code


async def create_member(
    session: AsyncSession, keyring: Keyring, program: Program, data: MemberCreate
) -> MemberRead:
    card_number = normalize_card_number(data.card_number)
    e164 = normalize_phone(data.phone)
    tier_code = _check_tier(program, data.tier_code)
    taken = await session.scalar(
        select(Member.id).where(Member.program_id == program.id, Member.card_number == card_number)
    )
    if taken is not None:
        raise CardNumberTakenError(field="card_number")
    member_id = new_id()
    member = Member(
        id=member_id,
        program_id=program.id,
        card_number=card_number,
        name=data.name,
        tier_code=tier_code,
        status="active",
        bonus_balance_minor=0,
        **_phone_columns(keyring, member_id, e164),
    )
    session.add(member)
    try:
        await session.flush()
    except IntegrityError:
        raise CardNumberTakenError(field="card_number") from None
    return member_read(member)


async def load_member(session: AsyncSession, scope: Scope, member_id: uuid.UUID) -> Member:
    member = await session.scalar(select(Member).where(Member.id == member_id, visibility.members(scope)))
    if member is None:
        raise MemberNotFoundError()
    return member


async def list_members(
    session: AsyncSession,
    keyring: Keyring,
    scope: Scope,
    program_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    card_number: str | None = None,
    phone: str | None = None,
) -> Page[MemberRead]:
    program = await load_program(session, scope, program_id)
    readable = select(Program.id).where(Program.id == program.id, visibility.member_readers(scope))
    if await session.scalar(readable) is None:
        # a partner serving a coalition program sees the program, not its members: say so, not "none"
        raise ForbiddenError("This key may read this program but not its members.")
    conditions: list[ColumnElement[bool]] = [Member.program_id == program_id, visibility.members(scope)]
    if card_number is not None:
        conditions.append(Member.card_number == normalize_card_number(card_number))
    if phone is not None:
        conditions.append(Member.phone_index.in_(keyring.blind_indexes(normalize_phone(phone))))
    rows = await _page(session, select(Member).where(*conditions), Member.id, limit, cursor)
    return page_of([member_read(m) for m in rows], [m.id for m in rows], limit)


async def update_member(
    session: AsyncSession, keyring: Keyring, scope: Scope, member_id: uuid.UUID, data: MemberUpdate
) -> MemberRead:
    member = await load_member(session, scope, member_id)
    program = await load_writable_program(session, scope, member.program_id)
    if data.phone is not UNSET:
        for column, value in _phone_columns(keyring, member.id, normalize_phone(data.phone)).items():
            setattr(member, column, value)
    if data.name is not UNSET:
        member.name = data.name
    if data.tier_code is not UNSET and data.tier_code != member.tier_code:
        if any(t.promote_when for t in program.tiers):
            raise TierAutoPromotedError()
        member.tier_code = _check_tier(program, data.tier_code)
    if data.status is not UNSET:
        member.status = data.status
    await session.flush()
    return member_read(member)


# ---- import ----


@dataclass(frozen=True)
class ImportRow:
    line: int
    card_number: str
    phone: str
    name: str | None
    tier_code: str | None


@dataclass
class ImportTally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[ImportRejection] = field(default_factory=list)

    def report(self) -> ImportReport:
        return ImportReport(
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
            rejected=sorted(self.rejected, key=lambda r: r.line),
        )


REQUIRED_COLUMNS = ("card_number", "phone")
KNOWN_COLUMNS = (*REQUIRED_COLUMNS, "name", "tier_code")


def parse_csv(text: str, tally: ImportTally) -> list[ImportRow]:
    """Read rows, validate each on its own: a bad row is rejected with its line, the others go on."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InvalidInputError(
            "The first line must name the columns card_number,phone[,name,tier_code];"
            f" missing: {', '.join(missing)}.",
            field="body",
        )
    position = {name: header.index(name) for name in KNOWN_COLUMNS if name in header}
    rows: list[ImportRow] = []
    first_line: dict[str, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        row = _import_row(line, values, position, tally)
        if row is None:
            continue
        if row.card_number in first_line:
            tally.rejected.append(
                ImportRejection(
                    line=line,
                    code="duplicate_in_file",
                    message=f"This card number is already on line {first_line[row.card_number]}.",
                )
            )
            continue
        first_line[row.card_number] = line
        rows.append(row)
    return rows


def _import_row(
    line: int, values: list[str], position: dict[str, int], tally: ImportTally
) -> ImportRow | None:
    def cell(name: str) -> str:
        index = position.get(name)
        return values[index].strip() if index is not None and index < len(values) else ""

    card_number = normalize_card_number(cell("card_number"))
    if not CARD_NUMBER_RE.match(card_number):
        tally.rejected.append(
            ImportRejection(
                line=line,
                code="card_number_invalid",
                message="card_number must be 1-64 letters, digits or dashes.",
            )
        )
        return None
    try:
        phone = normalize_phone(cell("phone"))
    except InvalidPhoneError as exc:
        tally.rejected.append(ImportRejection(line=line, code=exc.code, message=exc.message))
        return None
    name = cell("name")[:200] or None
    return ImportRow(
        line=line, card_number=card_number, phone=phone, name=name, tier_code=cell("tier_code") or None
    )


def chunked(rows: list[ImportRow], size: int = IMPORT_CHUNK) -> Iterator[list[ImportRow]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def import_chunk(
    session: AsyncSession, keyring: Keyring, program: Program, rows: list[ImportRow], tally: ImportTally
) -> None:
    """Upsert one chunk of validated rows by card number; unchanged members are not written."""
    tiers = [t.code for t in program.tiers]
    existing = {
        m.card_number: m
        for m in await session.scalars(
            select(Member).where(
                Member.program_id == program.id, Member.card_number.in_([r.card_number for r in rows])
            )
        )
    }
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    now = utcnow()
    automatic = any(t.promote_when for t in program.tiers)
    for row in rows:
        if row.tier_code is not None and row.tier_code not in tiers:
            tally.rejected.append(
                ImportRejection(
                    line=row.line,
                    code="tier_invalid",
                    message=f"The program has no tier {row.tier_code!r}; it has: {', '.join(tiers)}.",
                )
            )
            continue
        member = existing.get(row.card_number)
        if automatic and _moves_tier(row, member, tiers[0]):
            tally.rejected.append(_auto_promoted(row, member, tiers[0]))
            continue
        if member is None:
            member_id = new_id()
            inserts.append(
                {
                    "id": member_id,
                    "program_id": program.id,
                    "card_number": row.card_number,
                    "name": row.name,
                    "tier_code": row.tier_code or tiers[0],
                    "status": "active",
                    "bonus_balance_minor": 0,
                    "created_at": now,
                    "updated_at": now,
                    **_phone_columns(keyring, member_id, row.phone),
                }
            )
            continue
        change = _member_change(keyring, member, row)
        if change:
            updates.append({"id": member.id, "updated_at": now, **change})
        else:
            tally.unchanged += 1
    if inserts:
        await session.execute(insert(Member), inserts)
    if updates:
        await session.execute(update(Member), updates)
    tally.created += len(inserts)
    tally.updated += len(updates)


def _moves_tier(row: ImportRow, member: Member | None, entry_tier: str) -> bool:
    """The row's tier differs from the member's (a new member's is the entry tier)."""
    current = member.tier_code if member is not None else entry_tier
    return row.tier_code is not None and row.tier_code != current


def _auto_promoted(row: ImportRow, member: Member | None, entry_tier: str) -> ImportRejection:
    where = f"the member is in {member.tier_code!r}" if member else f"new members start in {entry_tier!r}"
    return ImportRejection(
        line=row.line,
        code="tier_auto_promoted",
        message=(
            f"This program promotes its tiers automatically and {where}: leave tier_code empty or give "
            "that tier."
        ),
    )


def _member_change(keyring: Keyring, member: Member, row: ImportRow) -> dict[str, object]:
    change: dict[str, object] = {}
    if member.phone_index not in keyring.blind_indexes(row.phone):
        change.update(_phone_columns(keyring, member.id, row.phone))
    if row.name is not None and row.name != member.name:
        change["name"] = row.name
    if row.tier_code is not None and row.tier_code != member.tier_code:
        change["tier_code"] = row.tier_code
    return change


async def import_members(
    session: AsyncSession,
    keyring: Keyring,
    program: Program,
    text: str,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a whole CSV in the caller's transaction; see also the chunk-committing CLI driver."""
    tally = ImportTally()
    rows = parse_csv(text, tally)
    done = 0
    for chunk in chunked(rows):
        await import_chunk(session, keyring, program, chunk, tally)
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, len(rows))
    return tally.report()
