"""How an SMS body travels: GSM 03.38 when every character has a GSM code, else UCS-2; and how
many segments (billed messages) it takes.

A single GSM message holds 160 septets, a concatenated part 153 (the rest is the header);
characters of the GSM extension table (``{ } [ ] ~ \\ | ^ €`` and form feed) take two. UCS-2
holds 70 characters, 67 per part; a character outside the BMP (most emoji) takes two units.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = "^{}\\[~]|€\f"
_BASIC = frozenset(GSM_BASIC)
_EXTENDED = frozenset(GSM_EXTENDED)


@dataclass(frozen=True)
class Encoded:
    unicode: bool
    units: int
    segments: int

    @property
    def encoding(self) -> str:
        return "ucs2" if self.unicode else "gsm"


def is_gsm(text: str) -> bool:
    return all(c in _BASIC or c in _EXTENDED for c in text)


def measure(text: str) -> Encoded:
    """The encoding a message needs and its length in segments."""
    if is_gsm(text):
        units = sum(2 if c in _EXTENDED else 1 for c in text)
        single, part = 160, 153
        unicode = False
    else:
        units = len(text.encode("utf-16-be")) // 2
        single, part = 70, 67
        unicode = True
    segments = 1 if units <= single else -(-units // part)
    return Encoded(unicode=unicode, units=units, segments=segments)


def ucs2_hex(text: str) -> str:
    """UCS-2 big-endian as uppercase hex, 4 digits a character: ``你好 hi`` →
    ``4F60597D002000680069`` (OneWaySMS's languagetype 2)."""
    return text.encode("utf-16-be").hex().upper()


def ucs2_segments(text: str) -> int:
    """Segments of ``text`` sent as UCS-2 whatever its characters (OneWaySMS's languagetype 2
    for text that is not plain ASCII)."""
    units = len(text.encode("utf-16-be")) // 2
    return 1 if units <= 70 else -(-units // 67)
