"""Card recognition speed: µs per code through the RecognitionIndex with 10,000 programs (numeric prefixes
of 4-8 digits, some alphanumeric prefixes, a few anchored patterns, a few signed-QR programs), beside a
same-run baseline: one dict.get(code) per code on the same codes. Also the index build time, cards
drawn for a 100-program rule set (recognition must not slow with the number of programs) and the cost of
switching on a phone program (every numeric code is then also parsed as a phone number).

    .venv/bin/python bench/recognition.py [PROGRAMS] [CODES]
"""

from __future__ import annotations

import base64
import random
import string
import sys
import time
import uuid
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from routing.recognition import ProgramRules, RecognitionIndex, normalize_code, sign_qr

NOW = 1_750_000_000
PATTERNS = 20
SIGNED = 10
SMALL = 100
ALPHANUMERIC_SHARE = 0.08
SIGNED_CODE_SHARE = 0.01
UPPER_DIGITS = string.ascii_uppercase + string.digits


def public_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def make_programs(
    rng: random.Random, count: int
) -> tuple[list[ProgramRules], list[str], dict[uuid.UUID, Ed25519PrivateKey]]:
    """Programs and the prefixes they own; signed programs come with their private keys."""
    programs: list[ProgramRules] = []
    prefixes: list[str] = []
    keys: dict[uuid.UUID, Ed25519PrivateKey] = {}
    for index in range(count):
        pid = uuid.UUID(int=rng.getrandbits(128))
        if index < SIGNED:
            key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
            keys[pid] = key
            programs.append(ProgramRules(pid, "coalition", None, signing_keys=(public_b64(key),)))
        elif index < SIGNED + PATTERNS:
            pattern = rf"P{index:03d}-?\d{{6}}"
            programs.append(ProgramRules(pid, "coalition", None, patterns=(pattern,)))
        elif rng.random() < ALPHANUMERIC_SHARE:
            prefix = "".join(rng.choices(string.ascii_uppercase, k=2)) + str(rng.randrange(10, 100))
            prefixes.append(prefix)
            programs.append(ProgramRules(pid, "venue", uuid.uuid4(), prefixes=(prefix,)))
        else:
            prefix = str(rng.randrange(1, 10)) + "".join(rng.choices(string.digits, k=rng.randrange(3, 8)))
            prefixes.append(prefix)
            programs.append(ProgramRules(pid, "coalition", None, prefixes=(prefix,)))
    return programs, prefixes, keys


def make_codes(
    rng: random.Random, count: int, prefixes: Sequence[str], keys: dict[uuid.UUID, Ed25519PrivateKey]
) -> list[str]:
    """What scanners send: mostly cards on a known prefix, some pattern cards, signed QRs and unknowns."""
    signed = list(keys.items())
    codes: list[str] = []
    for _ in range(count):
        roll = rng.random()
        if roll < SIGNED_CODE_SHARE:
            pid, key = rng.choice(signed)
            codes.append(sign_qr(key, pid, str(rng.randrange(10**9)), NOW + 3600))
        elif roll < 0.03:
            codes.append(f"P{rng.randrange(SIGNED, SIGNED + PATTERNS):03d}{rng.randrange(10**6):06d}")
        elif roll < 0.08:
            codes.append("".join(rng.choices(UPPER_DIGITS, k=14)))
        else:
            prefix = rng.choice(prefixes)
            codes.append(prefix + "".join(rng.choices(string.digits, k=16 - len(prefix))))
    return codes


def per_code_us(run: Callable[[], object], codes: int, repeat: int = 3) -> float:
    """Best of a few runs, in µs per code."""
    best = min(_timed(run) for _ in range(repeat))
    return best / codes * 1e6


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def recognize_all(index: RecognitionIndex, codes: Sequence[str]) -> Callable[[], int]:
    def run() -> int:
        return sum(len(index.recognize(code, NOW).candidates) for code in codes)

    return run


def card_us_with(program_count: int, code_count: int) -> float:
    """µs per card code on a fresh rule set of program_count programs (for the scaling line)."""
    rng = random.Random(program_count)
    programs, prefixes, keys = make_programs(rng, program_count)
    cards = [c for c in make_codes(rng, code_count, prefixes, keys) if not c.startswith("HUB1.")]
    return per_code_us(recognize_all(RecognitionIndex(programs), cards), len(cards))


def main(program_count: int, code_count: int) -> None:
    rng = random.Random(20_250_101)
    programs, prefixes, keys = make_programs(rng, program_count)
    raw = make_codes(rng, code_count, prefixes, keys)
    scanned = [f"  {c}\r\n" if i % 3 == 0 else c.lower() if i % 3 == 1 else c for i, c in enumerate(raw)]
    codes = [normalize_code(c) for c in scanned]
    cards = [c for c in codes if not c.startswith("HUB1.")]
    signed = [c for c in codes if c.startswith("HUB1.")]

    started = time.perf_counter()
    index = RecognitionIndex(programs)
    build_ms = (time.perf_counter() - started) * 1e3
    phone = ProgramRules(uuid.uuid4(), "coalition", None, accepts_phone=True)
    phone_index = RecognitionIndex([*programs, phone])

    found = recognize_all(index, codes)()
    all_us = per_code_us(recognize_all(index, codes), len(codes))
    card_us = per_code_us(recognize_all(index, cards), len(cards))
    signed_us = per_code_us(recognize_all(index, signed), len(signed))
    small_us = card_us_with(SMALL, code_count)
    phone_us = per_code_us(recognize_all(phone_index, cards), len(cards))
    normalize_us = per_code_us(lambda: [normalize_code(c) for c in scanned], len(scanned))
    table = dict.fromkeys(codes, programs[0])
    dict_us = per_code_us(lambda: [table.get(code) for code in codes], len(codes))

    print(f"card recognition, {len(programs):,} programs, {len(codes):,} codes ({found:,} candidates found)")
    print(
        f"  rules: {len(prefixes):,} prefixes, {PATTERNS} patterns, {SIGNED} signed-QR programs; "
        f"codes: {len(cards):,} cards, {len(signed):,} signed QR"
    )
    print(f"  index build                                 {build_ms:8.1f} ms")
    print(f"  recognize, all codes                        {all_us:8.2f} µs/code")
    print(f"  recognize, cards (prefix/pattern/unknown)   {card_us:8.2f} µs/code")
    print(f"  recognize, signed QR (Ed25519 verify)       {signed_us:8.2f} µs/code")
    print(f"  recognize, cards, {SMALL} programs only        {small_us:8.2f} µs/code")
    print(f"  recognize, cards, plus one phone program    {phone_us:8.2f} µs/code")
    print(f"  normalize_code on the raw scanner input     {normalize_us:8.2f} µs/code")
    print(f"  baseline: one dict.get(code) per code       {dict_us:8.2f} µs/code")
    print(f"  recognition costs {all_us / dict_us:.0f}x the baseline (cards alone {card_us / dict_us:.0f}x)")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 10_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 100_000,
    )
