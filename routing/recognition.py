"""Which program a scanned code belongs to (pure).

Codes arrive dirty from scanners: surrounding spaces, a trailing newline, lower-case letters, GS1
group separators, AIM symbology identifiers (`]C1`, `]Q1`…). `normalize_code` cleans them. The
`RecognitionIndex` is built once per change of the rules: a prefix trie answers the longest
matching prefix in O(length of the code) whatever the number of programs; anchored patterns are
compiled once; signed QR payloads are checked against the key of the program they name.

Signed QR payload (what a program's wallet card encodes):

    HUB1.<base64url(JSON {"pid": program id, "card": card number, "exp": unix seconds})>.<base64url(sig)>

The signature is Ed25519 over the ASCII bytes of `HUB1.<payload part>` with the program's key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import phonenumbers
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNED_QR_PREFIX = "HUB1."
MAX_CODE_LENGTH = 512
_AIM_ID = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_GS1_SEPARATORS = str.maketrans("", "", "\x1d\x1e\x04")
_CARD_NOISE = re.compile(r"[\s\-]+")
_PHONE_CHARS = re.compile(r"^\+?[\d\s()\-]{7,20}$")


@dataclass(frozen=True)
class ProgramRules:
    """A program as recognition sees it."""

    program_id: uuid.UUID
    kind: str  # "coalition" | "venue"
    owner_partner_id: uuid.UUID | None
    prefixes: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    signing_keys: tuple[str, ...] = ()  # base64 of raw Ed25519 public keys
    accepts_phone: bool = False


@dataclass(frozen=True)
class Candidate:
    program_id: uuid.UUID
    kind: str
    owner_partner_id: uuid.UUID | None
    card_number: str | None  # None when recognised by phone
    matched_by: str  # prefix | pattern | signed_qr | phone


@dataclass(frozen=True)
class Recognition:
    candidates: tuple[Candidate, ...]
    phone_e164: str | None  # the code read as a phone number, for programs that accept phones


@dataclass
class _TrieNode:
    children: dict[str, _TrieNode] = field(default_factory=dict)
    programs: list[ProgramRules] = field(default_factory=list)


def normalize_code(raw: str) -> str:
    """Strip what scanners add around a code; keep signed payloads byte-exact, upper-case card numbers."""
    code = raw.translate(_GS1_SEPARATORS).strip()  # separators first: "…\r\n\x04" must lose its CR LF too
    code = _AIM_ID.sub("", code, count=1)
    if code[: len(SIGNED_QR_PREFIX)].upper() == SIGNED_QR_PREFIX:
        return SIGNED_QR_PREFIX + code[len(SIGNED_QR_PREFIX) :]
    if _PHONE_CHARS.match(code) and code.startswith("+"):
        return code
    return _CARD_NOISE.sub("", code).upper()


def phone_of(code: str, region: str = "RU") -> str | None:
    """The code read as a valid phone number (E.164), if it looks like one."""
    if not _PHONE_CHARS.match(code):
        return None
    try:
        parsed = phonenumbers.parse(code, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sign_qr(private_key: Ed25519PrivateKey, program_id: uuid.UUID, card_number: str, expires_at: int) -> str:
    """Make a signed QR payload (what a program's card issuer does; used by tests and the demo)."""
    body = json.dumps({"pid": str(program_id), "card": card_number, "exp": expires_at}, separators=(",", ":"))
    signed = SIGNED_QR_PREFIX + _b64encode(body.encode())
    return signed + "." + _b64encode(private_key.sign(signed.encode()))


class RecognitionIndex:
    """Built once from every program's rules; answers a code in time independent of the number of programs."""

    def __init__(self, programs: Iterable[ProgramRules]) -> None:
        self._root = _TrieNode()
        self._patterns: list[tuple[re.Pattern[str], ProgramRules]] = []
        self._signed: dict[uuid.UUID, tuple[ProgramRules, list[Ed25519PublicKey]]] = {}
        self._phone_programs: list[ProgramRules] = []
        for program in programs:
            self._add(program)

    def _add(self, program: ProgramRules) -> None:
        for prefix in program.prefixes:
            node = self._root
            for char in prefix.upper():
                node = node.children.setdefault(char, _TrieNode())
            node.programs.append(program)
        for pattern in program.patterns:
            self._patterns.append((re.compile(pattern), program))
        if program.signing_keys:
            keys = [Ed25519PublicKey.from_public_bytes(base64.b64decode(k)) for k in program.signing_keys]
            self._signed[program.program_id] = (program, keys)
        if program.accepts_phone:
            self._phone_programs.append(program)

    @property
    def phone_programs(self) -> list[ProgramRules]:
        return self._phone_programs

    def recognize(self, code: str, now_unix: int) -> Recognition:
        """Every program the normalised code may belong to (resolution by venue comes after)."""
        if code.startswith(SIGNED_QR_PREFIX):
            signed = self._signed_candidate(code, now_unix)
            return Recognition(candidates=(signed,) if signed else (), phone_e164=None)
        found = [*self._longest_prefix(code), *self._pattern_matches(code)]
        phone = phone_of(code) if self._phone_programs else None
        unique = {(c.program_id, c.matched_by): c for c in found}
        return Recognition(candidates=tuple(unique.values()), phone_e164=phone)

    def _longest_prefix(self, code: str) -> list[Candidate]:
        node, best = self._root, []
        for char in code:
            child = node.children.get(char)
            if child is None:
                break
            node = child
            if node.programs:
                best = node.programs
        return [_candidate(p, code, "prefix") for p in best]

    def _pattern_matches(self, code: str) -> list[Candidate]:
        return [_candidate(p, code, "pattern") for regex, p in self._patterns if regex.fullmatch(code)]

    def _signed_candidate(self, code: str, now_unix: int) -> Candidate | None:
        parts = code.split(".")
        if len(parts) != 3:
            return None
        try:
            body = json.loads(_b64decode(parts[1]))
            signature = _b64decode(parts[2])
            if _b64encode(signature) != parts[2]:  # only the canonical encoding: no altered padding bits
                return None
            program_id = uuid.UUID(str(body["pid"]))
            card, expires = str(body["card"]), int(body["exp"])
        except (binascii.Error, ValueError, KeyError, TypeError, json.JSONDecodeError):
            return None
        entry = self._signed.get(program_id)
        if entry is None or expires < now_unix:
            return None
        program, keys = entry
        signed_part = (parts[0] + "." + parts[1]).encode()
        for key in keys:
            try:
                key.verify(signature, signed_part)
            except InvalidSignature:
                continue
            return _candidate(program, normalize_code(card), "signed_qr")
        return None


def _candidate(program: ProgramRules, card: str | None, how: str) -> Candidate:
    return Candidate(
        program_id=program.program_id,
        kind=program.kind,
        owner_partner_id=program.owner_partner_id,
        card_number=card,
        matched_by=how,
    )


@dataclass(frozen=True)
class VenueContext:
    venue_id: uuid.UUID
    partner_id: uuid.UUID
    offered_program_ids: frozenset[uuid.UUID]  # coalition programs with an active offer here


def usable_here(candidates: Iterable[Candidate], venue: VenueContext) -> list[Candidate]:
    """Drop other partners' own programs: their cards mean nothing at this venue."""
    return [c for c in candidates if c.kind == "coalition" or c.owner_partner_id == venue.partner_id]


def resolve(candidates: list[Candidate], venue: VenueContext) -> list[Candidate]:
    """Narrow candidates by the venue: one left is the answer, several are truly ambiguous."""
    by_program = {c.program_id: c for c in candidates}
    if len(by_program) <= 1:
        return list(by_program.values())
    offered = [
        c for c in by_program.values() if c.kind == "coalition" and c.program_id in venue.offered_program_ids
    ]
    if len(offered) == 1:
        return offered
    own = [c for c in by_program.values() if c.kind == "venue" and c.owner_partner_id == venue.partner_id]
    if not offered and len(own) == 1:
        return own
    return offered or list(by_program.values())
