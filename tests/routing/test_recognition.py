"""Recognition: dirty scanner input is normalised, the longest prefix wins, patterns are anchored, signed
QR payloads are checked (signature, expiry, program), phones are offered only to phone programs, and the
venue narrows what is left."""

from __future__ import annotations

import base64
import re
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from routing.recognition import (
    Candidate,
    ProgramRules,
    RecognitionIndex,
    VenueContext,
    normalize_code,
    phone_of,
    resolve,
    sign_qr,
    usable_here,
)

NOW = 1_750_000_000
LATER = NOW + 3600
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
PARTNER_HERE = uuid.UUID(int=1)
PARTNER_ELSEWHERE = uuid.UUID(int=2)
KEY_A = Ed25519PrivateKey.from_private_bytes(b"a" * 32)
KEY_B = Ed25519PrivateKey.from_private_bytes(b"b" * 32)


def public_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def coalition(*prefixes: str, patterns: tuple[str, ...] = (), phone: bool = False) -> ProgramRules:
    return ProgramRules(
        program_id=uuid.uuid4(),
        kind="coalition",
        owner_partner_id=None,
        prefixes=prefixes,
        patterns=patterns,
        accepts_phone=phone,
    )


def signed_program(*keys: Ed25519PrivateKey) -> ProgramRules:
    return ProgramRules(
        program_id=uuid.uuid4(),
        kind="coalition",
        owner_partner_id=None,
        signing_keys=tuple(public_b64(k) for k in keys),
    )


def ids(index: RecognitionIndex, code: str) -> set[uuid.UUID]:
    return {c.program_id for c in index.recognize(code, NOW).candidates}


# ---- normalisation ----


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("7788123456", "7788123456"),
        ("  7788123456  ", "7788123456"),
        ("7788123456\n", "7788123456"),
        ("7788123456\r\n", "7788123456"),
        ("\t7788 1234 56\n", "7788123456"),
        ("7788-1234-56", "7788123456"),
        ("ab-12cd", "AB12CD"),
        ("0104600\x1d21abc\x1d", "010460021ABC"),
        ("]C10104600\x1d21abc", "010460021ABC"),
        ("]Q3ab123\n", "AB123"),
        ("]e0 0104600 ", "0104600"),
        ("7788123456\r\n\x04", "7788123456"),
        ("+7 916 123-45-67\n", "+7 916 123-45-67"),
        ("8 916 123-45-67", "89161234567"),
        ("", ""),
        ("  \n", ""),
    ],
)
def test_normalize_code_cleans_scanner_noise(raw: str, clean: str) -> None:
    """Spaces, newlines, dashes, GS1 separators and a leading AIM id go; letters are upper-cased."""
    assert normalize_code(raw) == clean


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("HUB1.abc.DEF", "HUB1.abc.DEF"),
        ("hub1.abc.DEF\n", "HUB1.abc.DEF"),
        ("]Q1HUB1.abc.DEF", "HUB1.abc.DEF"),
        ("HUB1.abc.DEF\r\n\x04", "HUB1.abc.DEF"),
    ],
)
def test_normalize_code_keeps_signed_payloads_byte_exact(raw: str, clean: str) -> None:
    """A signed payload keeps its case (base64 is case-sensitive); only its marker and the noise change."""
    assert normalize_code(raw) == clean


CARD_TEXT = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=1, max_size=24)
NOISE = st.sampled_from(["", " ", "  ", "\t", "\n", "\r\n", "\x1d", "\x04", "\r\n\x04"])


@st.composite
def dirty_scans(draw: st.DrawFn) -> tuple[str, str]:
    """A clean card number and what a scanner might send for it."""
    clean = draw(CARD_TEXT)
    chars = [c.lower() if draw(st.booleans()) else c for c in clean]
    inner = draw(st.lists(st.sampled_from(["", "", "", " ", "-", "\x1d"]), min_size=len(chars)))
    body = "".join(c + sep for c, sep in zip(chars, inner, strict=False))
    aim = draw(st.sampled_from(["", "]C1", "]Q3", "]E0", "]d2"]))
    return clean, draw(NOISE) + aim + body + draw(NOISE)


@given(dirty_scans())
def test_dirty_scan_normalises_to_the_clean_card(scan: tuple[str, str]) -> None:
    """Whatever noise a scanner adds around and inside a card number, the clean number comes out."""
    clean, dirty = scan
    assert normalize_code(dirty) == clean


@given(st.text(alphabet=st.characters(blacklist_characters="]", blacklist_categories=["Cs"]), max_size=40))
def test_normalize_code_is_idempotent(raw: str) -> None:
    """Normalising twice equals normalising once (for codes that do not themselves start with ']')."""
    once = normalize_code(raw)
    assert normalize_code(once) == once


@given(dirty_scans())
def test_normalize_code_is_idempotent_on_scans(scan: tuple[str, str]) -> None:
    """Normalising a scanner's output twice equals normalising it once."""
    once = normalize_code(scan[1])
    assert normalize_code(once) == once


# ---- prefixes ----


def test_longest_prefix_wins() -> None:
    """With programs on 77 and 7788, a 7788… card belongs to 7788 alone and a 7799… card to 77."""
    short, long = coalition("77"), coalition("7788")
    index = RecognitionIndex([short, long])
    assert ids(index, "7788123456") == {long.program_id}
    assert ids(index, "7799123456") == {short.program_id}
    assert ids(index, "7788") == {long.program_id}
    assert ids(index, "7") == set()
    assert ids(index, "8877") == set()


def test_longest_prefix_does_not_depend_on_insertion_order() -> None:
    """The same rules added in the other order give the same answer."""
    short, long = coalition("77"), coalition("7788")
    assert ids(RecognitionIndex([long, short]), "77881") == {long.program_id}


def test_alphanumeric_prefix_matches_whatever_the_case() -> None:
    """An alphanumeric prefix (declared in any case) matches a normalised card in any case."""
    program = coalition("ab7")
    index = RecognitionIndex([program])
    found = index.recognize(normalize_code("ab7-0001\n"), NOW)
    assert [c.program_id for c in found.candidates] == [program.program_id]
    assert found.candidates[0].card_number == "AB70001"
    assert found.candidates[0].matched_by == "prefix"


def test_same_prefix_in_two_programs_gives_two_candidates() -> None:
    """Two programs sharing the longest prefix are both candidates (resolution comes later)."""
    first, second = coalition("5500"), coalition("5500")
    assert ids(RecognitionIndex([first, second]), "55001234") == {first.program_id, second.program_id}


def test_program_with_several_prefixes_is_one_candidate() -> None:
    """A program with two matching prefixes of equal length is listed once."""
    program = ProgramRules(uuid.uuid4(), "coalition", None, prefixes=("12", "12"))
    assert len(RecognitionIndex([program]).recognize("1234", NOW).candidates) == 1


PREFIX_ALPHABET = "0127AB"


@given(
    st.lists(
        st.lists(st.text(alphabet=PREFIX_ALPHABET, min_size=1, max_size=4), min_size=1, max_size=3),
        min_size=1,
        max_size=8,
    ),
    st.lists(st.text(alphabet=PREFIX_ALPHABET, max_size=7), min_size=1, max_size=10),
)
def test_recognize_matches_a_brute_force_longest_prefix_oracle(
    prefix_sets: list[list[str]], codes: list[str]
) -> None:
    """For any rules, the candidates are exactly the programs owning the longest prefix of the code."""
    programs = [coalition(*prefixes) for prefixes in prefix_sets]
    index = RecognitionIndex(programs)
    rules = [(p.program_id, prefix) for p in programs for prefix in p.prefixes]
    probes = codes + [
        prefix + code for prefix in (p for prefixes in prefix_sets for p in prefixes) for code in codes[:2]
    ]
    for code in probes:
        matching = [(pid, prefix) for pid, prefix in rules if code.startswith(prefix)]
        longest = max((len(prefix) for _, prefix in matching), default=0)
        expected = {pid for pid, prefix in matching if len(prefix) == longest}
        assert ids(index, code) == expected, code


# ---- patterns ----


def test_pattern_is_anchored() -> None:
    """A pattern must match the whole code: no match inside a longer code or after a leading character."""
    program = coalition(patterns=(r"\d{4}",))
    index = RecognitionIndex([program])
    assert ids(index, "1234") == {program.program_id}
    assert ids(index, "12345") == set()
    assert ids(index, "X1234") == set()
    assert ids(index, "1234X") == set()


def test_pattern_with_explicit_anchors_and_letters() -> None:
    """A pattern written with ^…$ and letters matches the upper-cased normalised code."""
    program = coalition(patterns=(r"^VIP-?\d{6}$",))
    index = RecognitionIndex([program])
    found = index.recognize(normalize_code(" vip-123456\n"), NOW)
    assert [c.matched_by for c in found.candidates] == ["pattern"]
    assert found.candidates[0].card_number == "VIP123456"


def test_prefix_and_pattern_of_different_programs_are_both_candidates() -> None:
    """A code matching one program's prefix and another's pattern yields both."""
    by_prefix, by_pattern = coalition("99"), coalition(patterns=(r"99\d+",))
    assert ids(RecognitionIndex([by_prefix, by_pattern]), "991234") == {
        by_prefix.program_id,
        by_pattern.program_id,
    }


def test_patterns_are_compiled_once() -> None:
    """An invalid pattern fails when the index is built, not on a later scan."""
    with pytest.raises(re.error):
        RecognitionIndex([coalition(patterns=("([",))])


# ---- signed QR ----


def test_signed_qr_is_recognised_with_its_card_number() -> None:
    """A valid payload names its program and its (normalised) card number."""
    program = signed_program(KEY_A)
    payload = sign_qr(KEY_A, program.program_id, "w-0042", LATER)
    found = RecognitionIndex([program]).recognize(normalize_code(payload), NOW)
    assert found.candidates == (
        Candidate(program.program_id, "coalition", None, card_number="W0042", matched_by="signed_qr"),
    )
    assert found.phone_e164 is None


@pytest.mark.parametrize(("before", "after"), [("]Q1", "\r\n"), ("  ", "\n"), ("", "\r\n\x04"), ("]Q3", "")])
def test_signed_qr_survives_scanner_noise(before: str, after: str) -> None:
    """An AIM id in front and CR/LF/EOT behind do not break the signature."""
    program = signed_program(KEY_A)
    payload = sign_qr(KEY_A, program.program_id, "42", LATER)
    assert ids(RecognitionIndex([program]), normalize_code(before + payload + after)) == {program.program_id}


def test_signed_qr_any_current_key_is_accepted() -> None:
    """A program with two keys (rotation) accepts payloads signed by either."""
    program = signed_program(KEY_A, KEY_B)
    index = RecognitionIndex([program])
    for key in (KEY_A, KEY_B):
        assert ids(index, sign_qr(key, program.program_id, "42", LATER)) == {program.program_id}


@given(part=st.sampled_from([1, 2]), position=st.integers(min_value=0), replacement=st.sampled_from(B64URL))
def test_signed_qr_with_one_character_changed_is_refused(part: int, position: int, replacement: str) -> None:
    """Changing any one character of the body or of the signature gives no candidate."""
    program = signed_program(KEY_A)
    parts = sign_qr(KEY_A, program.program_id, "42", LATER).split(".")
    chars = list(parts[part])
    at = position % len(chars)
    if chars[at] == replacement:
        replacement = "A" if replacement != "A" else "B"
    chars[at] = replacement
    parts[part] = "".join(chars)
    assert ids(RecognitionIndex([program]), ".".join(parts)) == set()


def test_signed_qr_last_signature_character_is_not_malleable() -> None:
    """Every other value of the signature's last character (which carries padding bits) is refused."""
    program = signed_program(KEY_A)
    index = RecognitionIndex([program])
    payload = sign_qr(KEY_A, program.program_id, "42", LATER)
    accepted = [c for c in B64URL if c != payload[-1] and ids(index, payload[:-1] + c)]
    assert accepted == []


def test_signed_qr_with_padding_added_is_refused() -> None:
    """Only the canonical (unpadded) encoding of the signature is accepted."""
    program = signed_program(KEY_A)
    payload = sign_qr(KEY_A, program.program_id, "42", LATER)
    assert ids(RecognitionIndex([program]), payload + "=") == set()


def test_signed_qr_expired_is_refused() -> None:
    """A payload whose expiry has passed gives no candidate; one still valid does."""
    program = signed_program(KEY_A)
    index = RecognitionIndex([program])
    assert ids(index, sign_qr(KEY_A, program.program_id, "42", NOW - 1)) == set()
    assert ids(index, sign_qr(KEY_A, program.program_id, "42", NOW + 1)) == {program.program_id}


def test_signed_qr_signed_by_another_key_is_refused() -> None:
    """A payload signed with a key the program does not hold gives no candidate."""
    program = signed_program(KEY_A)
    assert ids(RecognitionIndex([program]), sign_qr(KEY_B, program.program_id, "42", LATER)) == set()


def test_signed_qr_cannot_borrow_another_programs_key() -> None:
    """A payload naming program A but signed with program B's key is refused."""
    program_a, program_b = signed_program(KEY_A), signed_program(KEY_B)
    index = RecognitionIndex([program_a, program_b])
    assert ids(index, sign_qr(KEY_B, program_a.program_id, "42", LATER)) == set()


def test_signed_qr_naming_an_unknown_program_is_refused() -> None:
    """A correctly signed payload for a program the index does not know gives no candidate."""
    program = signed_program(KEY_A)
    assert ids(RecognitionIndex([program]), sign_qr(KEY_A, uuid.uuid4(), "42", LATER)) == set()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "payload",
    [
        "HUB1.",
        "HUB1.abc",
        "HUB1.a.b.c",
        "HUB1.!!!.???",
        "HUB1." + _b64(b"not json") + "." + _b64(b"x" * 64),
        "HUB1." + _b64(b"[1, 2]") + "." + _b64(b"x" * 64),
        "HUB1." + _b64(b'{"pid": "nope", "card": "1", "exp": 1}') + "." + _b64(b"x" * 64),
        "HUB1." + _b64(b'{"card": "1", "exp": 1}') + "." + _b64(b"x" * 64),
        "HUB1." + _b64(b"\xff\xfe") + "." + _b64(b"x" * 64),
    ],
)
def test_malformed_signed_payloads_give_no_candidate(payload: str) -> None:
    """Broken structure, base64, JSON or fields give no candidate instead of an exception."""
    assert RecognitionIndex([signed_program(KEY_A)]).recognize(payload, NOW).candidates == ()


def test_signed_payload_is_not_matched_by_prefix_rules() -> None:
    """A HUB1 payload is judged only by its signature, even if a prefix rule would match its text."""
    program = coalition("HUB")
    assert ids(RecognitionIndex([program]), "HUB1.abc.def") == set()


# ---- phones ----


@pytest.mark.parametrize(
    ("scanned", "e164"),
    [
        ("+7 916 123-45-67\n", "+79161234567"),
        ("8 916 123-45-67", "+79161234567"),
        ("89161234567", "+79161234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_is_read_when_a_program_accepts_phones(scanned: str, e164: str) -> None:
    """A phone-looking code yields its E.164 form when some program accepts phones."""
    index = RecognitionIndex([coalition("1"), coalition(phone=True)])
    assert index.recognize(normalize_code(scanned), NOW).phone_e164 == e164


def test_phone_is_not_read_without_phone_programs() -> None:
    """Without a program that accepts phones, a phone-looking code yields no phone."""
    index = RecognitionIndex([coalition("8916")])
    found = index.recognize(normalize_code("8 916 123-45-67"), NOW)
    assert found.phone_e164 is None
    assert len(found.candidates) == 1


@pytest.mark.parametrize("code", ["ABC1234567", "123", "+7 000 000-00-00", "7788123456789012345678"])
def test_non_phones_yield_no_phone(code: str) -> None:
    """Codes that are not valid phone numbers yield no phone even when phones are accepted."""
    assert phone_of(normalize_code(code)) is None
    assert RecognitionIndex([coalition(phone=True)]).recognize(normalize_code(code), NOW).phone_e164 is None


def test_phone_programs_are_listed() -> None:
    """The index lists the programs that accept phones, for the member look-up by blind index."""
    with_phone, without = coalition(phone=True), coalition("1")
    assert RecognitionIndex([with_phone, without]).phone_programs == [with_phone]


# ---- resolution by venue ----

COALITION_OFFERED = Candidate(uuid.UUID(int=11), "coalition", None, "1", "prefix")
COALITION_OFFERED_2 = Candidate(uuid.UUID(int=12), "coalition", None, "1", "prefix")
COALITION_ELSEWHERE = Candidate(uuid.UUID(int=13), "coalition", None, "1", "prefix")
COALITION_ELSEWHERE_2 = Candidate(uuid.UUID(int=14), "coalition", None, "1", "prefix")
OWN_VENUE = Candidate(uuid.UUID(int=21), "venue", PARTNER_HERE, "1", "prefix")
OWN_VENUE_2 = Candidate(uuid.UUID(int=22), "venue", PARTNER_HERE, "1", "pattern")
OTHER_VENUE = Candidate(uuid.UUID(int=31), "venue", PARTNER_ELSEWHERE, "1", "prefix")
HERE = VenueContext(
    venue_id=uuid.UUID(int=100),
    partner_id=PARTNER_HERE,
    offered_program_ids=frozenset({COALITION_OFFERED.program_id, COALITION_OFFERED_2.program_id}),
)


@pytest.mark.parametrize(
    ("candidates", "chosen"),
    [
        pytest.param([], [], id="nothing"),
        pytest.param([COALITION_ELSEWHERE], [COALITION_ELSEWHERE], id="single-without-offer"),
        pytest.param([COALITION_ELSEWHERE, COALITION_OFFERED], [COALITION_OFFERED], id="offered-coalition"),
        pytest.param([OWN_VENUE, COALITION_OFFERED], [COALITION_OFFERED], id="offer-beats-own"),
        pytest.param([COALITION_ELSEWHERE, OWN_VENUE], [OWN_VENUE], id="own-without-offer"),
        pytest.param(
            [COALITION_OFFERED, COALITION_OFFERED_2],
            [COALITION_OFFERED, COALITION_OFFERED_2],
            id="two-offered-ambiguous",
        ),
        pytest.param(
            [COALITION_ELSEWHERE, COALITION_ELSEWHERE_2],
            [COALITION_ELSEWHERE, COALITION_ELSEWHERE_2],
            id="two-without-offer-ambiguous",
        ),
        pytest.param(
            [OWN_VENUE, OWN_VENUE_2, COALITION_ELSEWHERE],
            [OWN_VENUE, OWN_VENUE_2, COALITION_ELSEWHERE],
            id="two-own-ambiguous",
        ),
        pytest.param(
            [COALITION_OFFERED, COALITION_OFFERED_2, OWN_VENUE],
            [COALITION_OFFERED, COALITION_OFFERED_2],
            id="two-offered-and-own-ambiguous-among-offered",
        ),
    ],
)
def test_resolve_by_venue(candidates: list[Candidate], chosen: list[Candidate]) -> None:
    """The coalition program with an offer here wins, else the venue's own program, else all are ambiguous."""
    assert resolve(candidates, HERE) == chosen


def test_resolve_counts_one_program_matched_twice_once() -> None:
    """A program matched by both prefix and pattern is one candidate, not an ambiguity."""
    twice = Candidate(COALITION_ELSEWHERE.program_id, "coalition", None, "1", "pattern")
    assert [c.program_id for c in resolve([COALITION_ELSEWHERE, twice], HERE)] == [
        COALITION_ELSEWHERE.program_id
    ]


def test_usable_here_drops_other_partners_venue_programs() -> None:
    """Coalition programs and this partner's own programs stay; another partner's venue program goes."""
    candidates = [COALITION_ELSEWHERE, OWN_VENUE, OTHER_VENUE, COALITION_OFFERED]
    assert usable_here(candidates, HERE) == [COALITION_ELSEWHERE, OWN_VENUE, COALITION_OFFERED]


def test_other_partners_card_is_not_ambiguous_here() -> None:
    """A code shared by this venue's program and another partner's program resolves to this venue's."""
    assert resolve(usable_here([OTHER_VENUE, OWN_VENUE], HERE), HERE) == [OWN_VENUE]


def test_end_to_end_scan_resolves_by_venue() -> None:
    """Two programs on the same prefix: the scan at a venue offering one of them picks that one."""
    first, second = coalition("4000"), coalition("4000")
    found = RecognitionIndex([first, second]).recognize(normalize_code(" 4000 1234\n"), NOW)
    venue = VenueContext(uuid.uuid4(), PARTNER_HERE, frozenset({second.program_id}))
    chosen = resolve(usable_here(found.candidates, venue), venue)
    assert [c.program_id for c in chosen] == [second.program_id]
