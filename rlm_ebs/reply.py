"""Custom reply attributes per tariff and per NAS (``radius_reply_attributes``).

rlm_sql's check query brings them as ``EBS-Reply-Attr`` control values,
``applies;op;attribute;value`` with the value percent-encoded (see
sql/functions/ebs_radius_check.sql). Each applies to a normal
accept, to a guest-pool accept, or to both (``always``); a reject carries none.

A row we cannot read is logged and skipped, never a failed request: the operator typed
it, the subscriber should not pay for a typo. A well-formed name FreeRADIUS does not know
is skipped (and logged) by rlm_python3 itself when the reply is applied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from rlm_ebs.request import VALUE_LIMIT

APPLIES = frozenset({"accept", "guest", "always"})
OPERATORS = frozenset({"=", ":=", "+="})
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}")
RADIUS_VALUE_LIMIT = 253  # one attribute's value on the wire


@dataclass(frozen=True, slots=True)
class ReplyAttribute:
    applies: str
    op: str
    name: str
    value: str

    def applies_to(self, guest: bool) -> bool:
        return self.applies == "always" or self.applies == ("guest" if guest else "accept")

    def pair(self) -> tuple[str, str, str]:
        return (self.name, self.op, self.value)


def parse(text: str) -> ReplyAttribute:
    """One ``EBS-Reply-Attr`` value; ValueError says what is wrong with it."""
    if len(text.encode()) >= VALUE_LIMIT:
        raise ValueError("the row reached rlm_python3's value limit and may be cut short")
    parts = text.split(";", 3)
    if len(parts) != 4:
        raise ValueError("not applies;op;attribute;value")
    applies, op, name, encoded = parts
    value = unquote(encoded)
    if applies not in APPLIES:
        raise ValueError(f"applies {applies!r} is none of {sorted(APPLIES)}")
    if op not in OPERATORS:
        raise ValueError(f"operator {op!r} is none of {sorted(OPERATORS)}")
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not an attribute name")
    if not value or len(value.encode()) > RADIUS_VALUE_LIMIT:
        raise ValueError(f"{name}: a value of 1 to {RADIUS_VALUE_LIMIT} bytes is needed")
    if any(ord(c) < 32 for c in value):
        raise ValueError(f"{name}: control characters in the value")
    return ReplyAttribute(applies, op, name, value)


def custom_reply(
    rows: Iterable[str], guest: bool, log: Callable[[str], None]
) -> list[tuple[str, str, str]]:
    """The ``(name, op, value)`` pairs for this answer, in the rows' order."""
    pairs = []
    for row in rows:
        try:
            attribute = parse(row)
        except ValueError as error:
            log(f"rlm_ebs: custom reply attribute skipped ({error}): {row[:80]!r}")
            continue
        if attribute.applies_to(guest):
            pairs.append(attribute.pair())
    return pairs
