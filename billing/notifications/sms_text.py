"""An SMS's length in parts, and Russian text in Latin letters for providers told to
transliterate (sms.ru's ``translit``, the guide's ``TRANSLIT``).

An SMS carries 160 characters of the GSM 03.38 alphabet or 70 of UCS-2 (any Cyrillic
letter makes the whole message UCS-2); a longer message goes in parts of 153 or 67 (the
rest of each part is the concatenation header), and the characters of the GSM
extension table (``^{}\\[~]|€``) take two places. The count is what the operator pays by.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = "^{}\\[~]|€\f"
_BASIC = frozenset(GSM_BASIC)
_EXTENDED = frozenset(GSM_EXTENDED)


@dataclass(frozen=True)
class Length:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets for gsm7, UTF-16 code units for ucs2
    parts: int


def length(text: str) -> Length:
    if all(ch in _BASIC or ch in _EXTENDED for ch in text):
        units = sum(2 if ch in _EXTENDED else 1 for ch in text)
        single, part = 160, 153
        encoding = "gsm7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
        encoding = "ucs2"
    parts = 1 if units <= single else -(-units // part)
    return Length(encoding, units, parts)


# GOST 7.79-2000 system B without diacritics, as Russian operators print it.
_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh",
    "з": "z", "и": "i", "й": "j", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "x", "ц": "c",
    "ч": "ch", "ш": "sh", "щ": "shh", "ъ": "''", "ы": "y", "ь": "'", "э": "e", "ю": "yu",
    "я": "ya", "№": "N",
}


def transliterate(text: str) -> str:
    out = []
    for ch in text:
        latin = _TRANSLIT.get(ch.lower())
        if latin is None:
            out.append(ch)
        elif ch.isupper():
            out.append(latin[:1].upper() + latin[1:])
        else:
            out.append(latin)
    return "".join(out)
