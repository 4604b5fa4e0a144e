"""A subscriber's contacts (phone and e-mail): the one place they are checked and stored.

The cabinet lets the subscriber change them; notifications and the operator's searches
read them. So a phone is kept in one form, ``+`` (when typed) and its digits only, which
``ebs_phone_digits`` and the operator's phone search read as they read any other; an
e-mail is kept as typed, once it looks like an address a message can be sent to. An empty
value clears the contact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from billing.errors import Refused

MIN_PHONE_DIGITS = 5
MAX_PHONE_DIGITS = 15  # E.164
MAX_EMAIL = 254  # RFC 5321's path limit
_PHONE_TYPED = re.compile(r"^\+?[0-9()\- ]+$")
# One @, no spaces, a dot in the domain with something on both sides: enough to catch a
# typo; the mailbox itself is proven only by a message that arrives.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


class ContactError(Refused):
    """A contact that cannot be stored; ``code``: ``bad_phone``, ``bad_email``,
    ``unknown_account``."""


@dataclass(frozen=True, slots=True)
class Contacts:
    phone: str
    email: str


def normal_phone(typed: str) -> str:
    """The phone as stored: ``+`` when typed, then the digits; spaces, dashes and
    brackets between them are dropped."""
    text = (typed or "").strip()
    if not text:
        return ""
    if not _PHONE_TYPED.match(text):
        raise ContactError("bad_phone", "a phone is digits, with an optional + in front")
    digits = re.sub(r"[^0-9]", "", text)
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        raise ContactError("bad_phone", f"a phone has {MIN_PHONE_DIGITS} to"
                                        f" {MAX_PHONE_DIGITS} digits")
    return ("+" if text.startswith("+") else "") + digits


def normal_email(typed: str) -> str:
    text = (typed or "").strip()
    if text and (len(text) > MAX_EMAIL or not _EMAIL.match(text)):
        raise ContactError("bad_email", "not an e-mail address")
    return text


def set_contacts(conn: psycopg.Connection, account_id: int, *, phone: str,
                 email: str) -> Contacts:
    """Store the account's phone and e-mail, each checked and in its stored form."""
    contacts = Contacts(normal_phone(phone), normal_email(email))
    updated = conn.execute(
        "UPDATE accounts SET phone = %s, email = %s WHERE id = %s",
        (contacts.phone, contacts.email, account_id),
    ).rowcount
    if not updated:
        raise ContactError("unknown_account", f"account {account_id} does not exist")
    return contacts
