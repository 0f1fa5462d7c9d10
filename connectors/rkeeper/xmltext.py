"""Text that goes into the hub's FarCards answers: XML-safe, and short enough for the DLL's buffers.

- XML 1.0 allows only TAB, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD and U+10000..U+10FFFF (W3C XML 1.0
  §2.2 "Char"); everything else (most C0 controls, lone surrogates, U+FFFE/U+FFFF) is dropped, and so
  are DEL and the C1 controls, which no till screen or slip printer shows as anything useful.
- An attribute keeps TAB, LF and CR only as character references: a parser normalises a literal one
  to a space (XML 1.0 §3.3.3), and a slip or a screen message may need its line breaks.
- The DLL's CardInfo strings are fixed ASCIIZ buffers (FarCards Extdll6 description: Holder 40 bytes,
  WhyLock/DopInfo/ScrMessage/PrnMessage 256 bytes), so at most 39 and 255 characters arrive. Length is
  counted in UTF-16 code units, the way a Windows string counts it: a character outside the BMP takes
  two, and a cut never falls between the two halves of a pair. In the till's one-byte code page every
  code unit left takes at most one byte, so the buffer is never overrun.
"""

from __future__ import annotations

import re

# what XML 1.0 forbids, plus DEL and the C1 controls
_NOT_XML_TEXT = re.compile("[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "\t": "&#9;",
    "\n": "&#10;",
    "\r": "&#13;",
}
_ATTRIBUTE_SPECIALS = re.compile('[&<>"\t\n\r]')


def clean(text: str) -> str:
    """The text without the characters XML 1.0 cannot carry (and without DEL and C1 controls)."""
    return _NOT_XML_TEXT.sub("", text)


def attribute_value(text: str) -> str:
    """Cleaned text escaped for a double-quoted attribute value."""
    return _ATTRIBUTE_SPECIALS.sub(lambda match: _ATTRIBUTE_ESCAPES[match.group()], clean(text))


def utf16_length(text: str) -> int:
    """How many UTF-16 code units the text takes."""
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def truncated(text: str, limit: int) -> str:
    """Cleaned text cut to at most `limit` UTF-16 code units, never inside a surrogate pair."""
    text = clean(text)
    if len(text) <= limit // 2:
        return text
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text
