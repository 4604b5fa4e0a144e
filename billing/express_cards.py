"""Express cards: prepaid cards with a printed number and a PIN under a scratch layer,
made in series, sold in batches to dealers and activated once onto a balance.

Every door (the cashier's desk, the REST API, the subscriber's cabinet) activates through
:func:`activate`, which credits the nominal with ``billing.payments.post_payment``
(source ``card``, the card's id as the unique id): the card's row is locked while it is
used, and the ledger's key is the card, so a retry or ten clerks at once credit once.

**How a PIN is kept.** A PIN is short (12 digits is 40 bits), so any hash a dump holds
can be walked offline: a slow hash (bcrypt, PBKDF2) only multiplies the work by a
constant a GPU farm pays, and it would cost minutes of CPU for a series of 10,000 cards
and a noticeable wait at every activation. Instead each PIN is kept as HMAC-SHA256 under
a 256-bit key that never enters the database, the credentials key of
``billing.credentials`` (``CREDENTIALS_KEY`` / ``CREDENTIALS_KEY_FILE``), each use with a
key of its own derived from it. Without that key a dump holds nothing to test a guess
against; with it, hashing 10,000 PINs takes milliseconds. The hash covers the card's
number too, so equal PINs on two cards differ and a hash moved to another card fails.
Online guessing, the one attack left, is throttled per account and per source
(``card_pin_guard``).

**The one export.** The PINs are drawn from ``secrets`` when the series is made and wait,
sealed with AES-GCM under a derived key and bound to their series, in
``card_series.pins_sealed``; :func:`export_series` opens them for the printer once and
empties the column in the same transaction, so a second export is refused and nobody
reads a PIN back afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import psycopg

from billing import payments
from billing import settings as settings_mod
from billing.credentials import CredentialCipher, CredentialError
from billing.errors import Refused
from billing.money import MoneyError, round_money, to_money

SOURCE = "card"  # the payments' source: their key is card:payment:<card id>
DIGITS = "0123456789"
DEFAULT_PIN_LENGTH = 12
MAX_CARDS = 100_000
# The fewest PINs a series may draw from: 10^10, ten digits at least. With 5 wrong PINs
# allowed before a lock that doubles, an attacker gets a few hundred guesses a day.
MIN_PIN_SPACE = 10**10
_MAX_TYPED = 64  # a longer "PIN" or number is refused before any hashing


class CardRefused(Refused):
    """An express-card action refused; ``code`` names the rule:

    making and selling: ``bad_series`` (a parameter out of range, the message says which),
    ``weak_pin`` (too few possible PINs), ``no_series``, ``no_dealer``,
    ``already_exported`` (the PINs were handed out once; they are gone),
    ``not_enough_cards`` (fewer unsold cards than asked), ``series_disabled``,
    ``series_expired``;

    activating: ``wrong_pin`` (no card with this number and PIN: an unknown number
    answers the same, so numbers cannot be probed), ``card_disabled``, ``card_expired``,
    ``card_unsold`` (not yet sold to a dealer), ``card_used`` (activated before, by this
    account or another), ``too_many_attempts`` (``locked_until`` says until when).
    A card's state is told only to whoever typed its PIN.
    """

    def __init__(self, code: str, message: str, locked_until: datetime | None = None) -> None:
        super().__init__(code, message)
        self.locked_until = locked_until


@dataclass(frozen=True)
class PinLimits:
    """The guessing throttle: ``failures`` wrong PINs in a row lock the account (or the
    source) for ``lock_seconds``, doubled by each further failure up to
    ``max_lock_seconds``; a failure older than ``max_lock_seconds`` is forgotten."""

    failures: int
    lock_seconds: int
    max_lock_seconds: int

    @classmethod
    def from_settings(cls, settings: SimpleNamespace | None = None) -> PinLimits:
        s = settings or settings_mod.load()
        return cls(int(s.EXPRESS_CARD_PIN_FAILURES), int(s.EXPRESS_CARD_LOCK_SECONDS),
                   int(s.EXPRESS_CARD_LOCK_MAX_SECONDS))

    def lock_for(self, failures: int) -> int:
        """Seconds to lock after ``failures`` wrong PINs in a row (0: no lock)."""
        if failures < self.failures:
            return 0
        return min(self.lock_seconds * 2 ** min(failures - self.failures, 30),
                   self.max_lock_seconds)


@dataclass(frozen=True)
class Series:
    id: int
    name: str
    nominal: Decimal
    card_count: int
    valid_until: datetime


@dataclass(frozen=True)
class Export:
    series: Series
    cards: list[tuple[str, str]]  # (number, PIN) in serial order


@dataclass(frozen=True)
class Sale:
    """A dealer's invoice: ``card_count`` cards ``first_number``..``last_number`` at
    ``nominal`` less ``discount_percent``, ``total`` to pay."""

    id: int
    dealer_id: int
    series_id: int
    card_count: int
    nominal: Decimal
    discount_percent: Decimal
    total: Decimal
    first_number: str
    last_number: str


@dataclass(frozen=True)
class Activation:
    card_id: int
    number: str
    nominal: Decimal
    payment: payments.Payment


# --- keys ---------------------------------------------------------------------------


def _derived(master: bytes, purpose: bytes) -> bytes:
    return hmac.new(master, b"ebs-express-cards:" + purpose, hashlib.sha256).digest()


def pin_hash(master: bytes, number: str, pin: str) -> bytes:
    """The stored form of card ``number``'s ``pin`` under the credentials key."""
    return hmac.new(_derived(master, b"pin"), f"{number}\x00{pin}".encode(),
                    hashlib.sha256).digest()


def _cipher(master: bytes) -> CredentialCipher:
    # The sealing key is derived for cards alone, so a value sealed here is no CHAP
    # password and a CHAP password is no series; the series' id binds a blob to its row.
    return CredentialCipher(_derived(master, b"seal"))


def card_number(series_id: int, serial: int) -> str:
    """The printed number: the series, then the card's serial in six digits."""
    return f"{series_id}{serial:06d}"


# --- making a series ----------------------------------------------------------------


def _checked_series(count: int, nominal, valid_until: datetime, pin_length: int,
                    pin_alphabet: str, maximum: Decimal, at: datetime) -> Decimal:
    if not 1 <= count <= MAX_CARDS:
        raise CardRefused("bad_series", f"a series holds 1 to {MAX_CARDS} cards, not {count}")
    try:
        money = to_money(nominal)
    except MoneyError as exc:
        raise CardRefused("bad_series", f"the nominal: {exc}") from None
    if money <= 0:
        raise CardRefused("bad_series", "the nominal must be greater than zero")
    if money > maximum:
        raise CardRefused("bad_series", f"the nominal {money} is above the maximum of one "
                                        f"payment, {maximum}: no card could be used")
    if valid_until.tzinfo is None:
        raise ValueError("valid_until must be timezone-aware")
    if valid_until <= at:
        raise CardRefused("bad_series", "the series would expire before it is sold")
    if not 6 <= pin_length <= 32:
        raise CardRefused("bad_series", f"a PIN has 6 to 32 characters, not {pin_length}")
    if (len(set(pin_alphabet)) != len(pin_alphabet) or len(pin_alphabet) < 2
            or len(pin_alphabet) > 100
            or not all(c.isprintable() and not c.isspace() for c in pin_alphabet)):
        raise CardRefused("bad_series", "the PIN alphabet: 2 to 100 distinct printable "
                                        "characters, no spaces")
    if len(pin_alphabet) ** pin_length < MIN_PIN_SPACE:
        raise CardRefused("weak_pin", f"{len(pin_alphabet)} characters ^ {pin_length} is "
                                      f"fewer than {MIN_PIN_SPACE:,} possible PINs: make "
                                      f"them longer")
    return money


def create_series(
    conn: psycopg.Connection,
    *,
    name: str,
    count: int,
    nominal: Decimal | str,
    valid_until: datetime,
    key: bytes,
    pin_length: int = DEFAULT_PIN_LENGTH,
    pin_alphabet: str = DIGITS,
    staff_user_id: int | None = None,
    comment: str = "",
    maximum: Decimal | None = None,
    at: datetime | None = None,
) -> Series:
    """Make a series of ``count`` cards of ``nominal``, each with a fresh PIN of
    ``pin_length`` characters of ``pin_alphabet`` from ``secrets``; the cards are one
    INSERT … SELECT over the PINs' hashes. The series is enabled, unsold, not exported."""
    moment = at or datetime.now(UTC)
    limit = payments.maximum_amount() if maximum is None else maximum
    money = _checked_series(count, nominal, valid_until, pin_length, pin_alphabet, limit,
                            moment)
    with conn.transaction():
        series_id = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('card_series', 'id'))").fetchone()[0]
        pins = ["".join(secrets.choice(pin_alphabet) for _ in range(pin_length))
                for _ in range(count)]
        numbers = [card_number(series_id, serial) for serial in range(1, count + 1)]
        hashes = [pin_hash(key, number, pin) for number, pin in zip(numbers, pins, strict=True)]
        sealed = _cipher(key).seal("\n".join(pins), series_id)
        conn.execute(
            "INSERT INTO card_series (id, name, nominal, card_count, pin_length, pin_alphabet,"
            " valid_until, pins_sealed, created_by, comment, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (series_id, name, money, count, pin_length, pin_alphabet, valid_until, sealed,
             staff_user_id, comment, moment))
        conn.execute(
            "INSERT INTO express_cards (series_id, serial, number, pin_hash)"
            " SELECT %s, c.serial, c.number, c.pin_hash"
            "   FROM unnest(%s::text[], %s::bytea[]) WITH ORDINALITY AS c(number, pin_hash,"
            "                                                          serial)",
            (series_id, numbers, hashes))
    return Series(series_id, name, money, count, valid_until)


def _series(conn: psycopg.Connection, series_id: int, lock: bool = False):
    row = conn.execute(
        "SELECT id, name, nominal, card_count, valid_until, enabled, exported_at, pins_sealed"
        "  FROM card_series WHERE id = %s" + (" FOR UPDATE" if lock else ""),
        (series_id,)).fetchone()
    if row is None:
        raise CardRefused("no_series", f"there is no card series {series_id}")
    return row


def export_series(conn: psycopg.Connection, series_id: int, *, key: bytes,
                  staff_user_id: int | None = None, at: datetime | None = None) -> Export:
    """The series' numbers and PINs, for the printer, once: the sealed PINs are emptied
    in the same transaction (commit only once the export is in hand)."""
    with conn.transaction():
        sid, name, nominal, count, valid_until, _enabled, exported_at, sealed = _series(
            conn, series_id, lock=True)
        if exported_at is not None:
            raise CardRefused("already_exported",
                              f"series {series_id} was exported on {exported_at:%Y-%m-%d}; "
                              f"its PINs are no longer kept")
        try:
            pins = _cipher(key).open(bytes(sealed), series_id).split("\n")
        except CredentialError as exc:
            raise CardRefused("bad_series", f"the PINs cannot be opened: {exc}") from None
        numbers = [r[0] for r in conn.execute(
            "SELECT number FROM express_cards WHERE series_id = %s ORDER BY serial",
            (series_id,))]
        if len(numbers) != len(pins):
            raise CardRefused("bad_series", "the series' cards and sealed PINs differ")
        conn.execute(
            "UPDATE card_series SET pins_sealed = NULL, exported_at = %s, exported_by = %s"
            " WHERE id = %s", (at or datetime.now(UTC), staff_user_id, series_id))
    return Export(Series(sid, name, nominal, count, valid_until),
                  list(zip(numbers, pins, strict=True)))


def set_enabled(conn: psycopg.Connection, series_id: int, enabled: bool) -> None:
    """Enable or disable every card of a series (a lost or stolen batch): a disabled
    card is refused at activation."""
    updated = conn.execute("UPDATE card_series SET enabled = %s WHERE id = %s",
                           (enabled, series_id)).rowcount
    if not updated:
        raise CardRefused("no_series", f"there is no card series {series_id}")


# --- selling --------------------------------------------------------------------------


def invoice_total(nominal: Decimal, count: int, discount_percent: Decimal) -> Decimal:
    """nominal × count × (1 − discount), rounded once to the kopeck (half up)."""
    return round_money(nominal * count * (100 - discount_percent) / 100)


def sell_to_dealer(conn: psycopg.Connection, series_id: int, dealer_id: int, count: int, *,
                   staff_user_id: int | None = None, at: datetime | None = None) -> Sale:
    """Sell the next ``count`` unsold cards of a series (lowest serials first) to a
    dealer at the dealer's discount: one sale row, the dealer's invoice."""
    moment = at or datetime.now(UTC)
    if count < 1:
        raise CardRefused("not_enough_cards", "a sale is of one card or more")
    with conn.transaction():
        _sid, _name, nominal, _count, valid_until, enabled, _e, _s = _series(
            conn, series_id, lock=True)
        if not enabled:
            raise CardRefused("series_disabled", f"series {series_id} is disabled")
        if valid_until <= moment:
            raise CardRefused("series_expired", f"series {series_id} has expired")
        dealer = conn.execute("SELECT discount_percent FROM card_dealers WHERE id = %s",
                              (dealer_id,)).fetchone()
        if dealer is None:
            raise CardRefused("no_dealer", f"there is no dealer {dealer_id}")
        discount = dealer[0]
        unsold = conn.execute(
            "SELECT count(*) FROM express_cards WHERE series_id = %s AND sale_id IS NULL",
            (series_id,)).fetchone()[0]
        if unsold < count:
            raise CardRefused("not_enough_cards",
                              f"series {series_id} has {unsold} unsold cards, not {count}")
        total = invoice_total(nominal, count, discount)
        sale_id = conn.execute(
            "INSERT INTO card_sales (dealer_id, series_id, card_count, nominal,"
            " discount_percent, total, first_number, last_number, sold_at, staff_user_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, '', '', %s, %s) RETURNING id",
            (dealer_id, series_id, count, nominal, discount, total, moment, staff_user_id)
        ).fetchone()[0]
        first, last = conn.execute(
            "WITH sold AS ("
            "  UPDATE express_cards SET sale_id = %(sale)s"
            "   WHERE id IN (SELECT id FROM express_cards"
            "                 WHERE series_id = %(series)s AND sale_id IS NULL"
            "                 ORDER BY serial LIMIT %(count)s)"
            "  RETURNING serial, number)"
            " SELECT (SELECT number FROM sold ORDER BY serial LIMIT 1),"
            "        (SELECT number FROM sold ORDER BY serial DESC LIMIT 1)",
            {"sale": sale_id, "series": series_id, "count": count}).fetchone()
        conn.execute("UPDATE card_sales SET first_number = %s, last_number = %s WHERE id = %s",
                     (first, last, sale_id))
    return Sale(sale_id, dealer_id, series_id, count, nominal, discount, total, first, last)


# --- activating -----------------------------------------------------------------------


def _typed(value: str, separators: str = "") -> str:
    """What the subscriber typed, without the spaces (and, in a number, the dashes) a
    printed card groups its characters with. A PIN keeps its dashes: its alphabet may
    hold one."""
    return "".join(c for c in str(value) if not c.isspace() and c not in separators)


def activate(
    conn: psycopg.Connection,
    account_id: int,
    number: str,
    pin: str,
    *,
    source: str,
    key: bytes,
    staff_user_id: int | None = None,
    limits: PinLimits | None = None,
    at: datetime | None = None,
) -> Activation:
    """Credit card ``number``'s nominal to the account once, if ``pin`` is its PIN and the
    card is enabled, sold, unexpired and unused.

    ``source`` names where the attempt came from (``staff:<id>`` for the desk and the
    API, the address for the cabinet): wrong PINs are counted per account and per source
    and lock both for a while (:class:`PinLimits`). Runs inside the caller's transaction
    when there is one. A refusal leaves only the attempt's count written, so the caller
    commits after a :class:`CardRefused` (rolling back would forget a wrong PIN)."""
    moment = at or datetime.now(UTC)
    rules = limits or PinLimits.from_settings()
    subjects = (("account", str(account_id)), ("source", source))
    refusal: CardRefused | None = None
    with conn.transaction():
        for scope, subject in subjects:  # one attempt at a time per account and source
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                         (f"ebs-card-pin:{scope}:{subject}",))
        until = _locked_until(conn, subjects, moment)
        if until is not None:
            refusal = CardRefused("too_many_attempts",
                                  f"too many wrong PINs: try again after {until:%H:%M:%S} UTC",
                                  locked_until=until)
        else:
            try:
                with conn.transaction():
                    done = _activate(conn, account_id, _typed(number, "-"), _typed(pin), key,
                                     staff_user_id, moment)
            except CardRefused as exc:
                refusal = exc
                if exc.code == "wrong_pin":
                    _count_failure(conn, subjects, moment, rules)
            else:
                _forget_failures(conn, subjects)
    if refusal is not None:
        raise refusal
    return done


def _activate(conn: psycopg.Connection, account_id: int, number: str, pin: str, key: bytes,
              staff_user_id: int | None, moment: datetime) -> Activation:
    row = None
    if len(number) <= _MAX_TYPED and len(pin) <= _MAX_TYPED:
        row = conn.execute(
            "SELECT c.id, c.pin_hash, c.sale_id, c.activated_at, s.enabled, s.valid_until,"
            "       s.nominal"
            "  FROM express_cards c JOIN card_series s ON s.id = c.series_id"
            " WHERE c.number = %s FOR UPDATE OF c", (number,)).fetchone()
    expected = bytes(row[1]) if row is not None else b"\x00" * 32
    if not hmac.compare_digest(pin_hash(key, number, pin), expected) or row is None:
        raise CardRefused("wrong_pin", "no card has this number and PIN")
    card_id, _hash, sale_id, activated_at, enabled, valid_until, nominal = row
    if activated_at is not None:
        raise CardRefused("card_used", f"card {number} was activated on "
                                       f"{activated_at:%Y-%m-%d %H:%M} UTC")
    if not enabled:
        raise CardRefused("card_disabled", f"card {number} is disabled")
    if sale_id is None:
        raise CardRefused("card_unsold", f"card {number} has not been sold yet")
    if valid_until <= moment:
        raise CardRefused("card_expired", f"card {number} expired on {valid_until:%Y-%m-%d}")
    paid = payments.post_payment(conn, account_id, nominal, source=SOURCE,
                                 unique_id=str(card_id), staff_user_id=staff_user_id,
                                 comment=f"Express card {number}", at=moment)
    conn.execute("UPDATE express_cards SET activated_at = %s, account_id = %s,"
                 " ledger_entry_id = %s WHERE id = %s",
                 (moment, account_id, paid.id, card_id))
    return Activation(card_id, number, nominal, paid)


def _locked_until(conn: psycopg.Connection, subjects, moment: datetime) -> datetime | None:
    row = conn.execute(
        "SELECT max(locked_until) FROM card_pin_guard"
        " WHERE (scope, subject) IN ((%s, %s), (%s, %s)) AND locked_until > %s",
        (*subjects[0], *subjects[1], moment)).fetchone()
    return row[0]


def _count_failure(conn: psycopg.Connection, subjects, moment: datetime,
                   rules: PinLimits) -> None:
    """One more wrong PIN for each subject (a count older than the longest lock starts
    again), and the lock it earns."""
    forget_before = moment - timedelta(seconds=rules.max_lock_seconds)
    for scope, subject in subjects:
        failures = conn.execute(
            "INSERT INTO card_pin_guard (scope, subject, failures, last_failure_at)"
            " VALUES (%s, %s, 1, %s)"
            " ON CONFLICT (scope, subject) DO UPDATE SET"
            "   failures = CASE WHEN card_pin_guard.last_failure_at < %s THEN 1"
            "                   ELSE card_pin_guard.failures + 1 END,"
            "   last_failure_at = EXCLUDED.last_failure_at"
            " RETURNING failures", (scope, subject, moment, forget_before)).fetchone()[0]
        seconds = rules.lock_for(failures)
        if seconds:
            conn.execute("UPDATE card_pin_guard SET locked_until = %s"
                         " WHERE scope = %s AND subject = %s",
                         (moment + timedelta(seconds=seconds), scope, subject))


def _forget_failures(conn: psycopg.Connection, subjects) -> None:
    conn.execute("DELETE FROM card_pin_guard WHERE (scope, subject) IN ((%s, %s), (%s, %s))",
                 (*subjects[0], *subjects[1]))
